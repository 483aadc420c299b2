"""Accounts worked concurrently: the same rows, in discovery order, and the same exit code as one
account after another; progress from the calling thread, once per account (moto in process)."""

from __future__ import annotations

import re
import threading
from typing import Any

import boto3
import pytest

from central.clock import fixed_clock
from central.domain.results import AccountResult, RunResult
from central.rotation.run import run_rotation
from tests.integration.conftest import Harness, make_harness
from tests.integration.faults import Faults, spread
from tests.integration.fixtures_extra import (
    LATER,
    shared_botocore_loader,  # noqa: F401 - autouse: shared service models (speed)
)
from tests.support.emulator import reset_emulator
from tests.support.world import AccountSpec, OrgSpec, UserSpec

# Every kind of row: rotated, not due, bad tag, two keys, no key, a refused account, not opted in.
SPEC = OrgSpec(
    ous={"Workloads": {"IKR:ENABLED": "true", "IKR:ROTATE_AFTER_DAYS": "60"}, "Sandbox": {}},
    accounts=[
        AccountSpec(
            "prod",
            "Workloads",
            {"IKR:DELETE_AFTER_DAYS": "3"},
            [
                UserSpec("alice", {"IKR:EMAIL": "alice@example.com"}),
                UserSpec("bob", {"IKR:EMAIL": "bob@example.com", "IKR:ROTATE_AFTER_DAYS": "200"}),
                UserSpec("carol", {"IKR:EMAIL": "not-an-address"}),
            ],
        ),
        AccountSpec("dev", "Workloads", {}, [UserSpec("erin", {"IKR:EMAIL": "erin@example.com"}, keys=2)]),
        AccountSpec("ops", "Workloads", {}, [UserSpec("olga", {"IKR:EMAIL": "olga@example.com"}, keys=0)]),
        AccountSpec("data", "Workloads", {}, [UserSpec("dora", {"IKR:EMAIL": "dora@example.com"})]),
        AccountSpec("web", "Workloads", {}, [UserSpec("walt", {"IKR:EMAIL": "walt@example.com"})]),
        AccountSpec("refused", "Workloads", {}, [UserSpec("rita", {"IKR:EMAIL": "rita@example.com"})]),
        AccountSpec("sandbox", "Sandbox", {}, [UserSpec("sam", {"IKR:EMAIL": "sam@example.com"})]),
    ],
)


def _world() -> Harness:
    reset_emulator()  # each world starts from an empty emulator
    harness = make_harness(boto3.Session(region_name="us-east-1"), SPEC)
    harness.services.clock = fixed_clock(LATER)
    return harness


def _refuse_one_account(faults: Faults, harness: Harness) -> None:
    refused = harness.world.account_ids["refused"]
    faults.refuse("AssumeRole", code="AccessDenied", when=lambda params: f"::{refused}:" in params["RoleArn"])


def _plain(result: RunResult, harness: Harness) -> dict[str, Any]:
    """The result with what differs between two worlds (run id, account, OU and key ids) named stably.
    Accounts come in discovery order, by id; ids differ between worlds, so rows are sorted by name."""
    names = {account_id: name for name, account_id in harness.world.account_ids.items()}
    rows = sorted(result.accounts, key=lambda row: names.get(row.account_id, ""))
    text = "\n".join(row.model_dump_json() for row in rows)
    for account_id, name in names.items():
        text = text.replace(account_id, f"<{name}>")
    for name, unit_id in (*harness.world.ou_ids.items(), ("root", harness.world.root_id)):
        text = text.replace(unit_id, f"<{name}>")
    keys: dict[str, str] = {}
    text = re.sub(r"AKIA[A-Z0-9]{16}", lambda m: keys.setdefault(m.group(), f"<key{len(keys)}>"), text)
    return {"exit_code": result.exit_code, "swept": result.swept, "now": result.now, "rows": text}


def test_a_concurrent_run_gives_the_rows_and_exit_code_of_a_sequential_one(monkeypatch: pytest.MonkeyPatch):
    harness = _world()
    faults = Faults(monkeypatch)
    _refuse_one_account(faults, harness)
    sequential = _plain(run_rotation(harness.services, concurrency=1), harness)

    harness = _world()
    faults = Faults(monkeypatch)
    _refuse_one_account(faults, harness)
    throttle = faults.throttle(spread(3, 10))  # and 30% of the requests throttled (retries included)
    finished: list[tuple[str, int]] = []
    result = run_rotation(
        harness.services,
        concurrency=8,
        progress=lambda row: finished.append((row.account_id, threading.get_ident())),
    )

    assert _plain(result, harness) == sequential
    assert [row.account_id for row in result.accounts] == sorted(row.account_id for row in result.accounts)
    assert sequential["exit_code"] == 1  # carol's bad tag and the refused account
    assert len(throttle.throttled) >= 0.25 * throttle.sent
    assert len(throttle.sleeps) == len(throttle.throttled)  # each throttled request retried
    # progress: every account once, from the calling thread
    assert sorted(account for account, _ in finished) == sorted(row.account_id for row in result.accounts)
    assert {thread for _, thread in finished} == {threading.get_ident()}


def test_a_dry_run_is_the_same_at_any_concurrency_and_rows_keep_discovery_order(monkeypatch: pytest.MonkeyPatch):
    harness = _world()
    faults = Faults(monkeypatch)
    _refuse_one_account(faults, harness)

    runs = [run_rotation(harness.services, dry_run=True, concurrency=n) for n in (1, 3, 16)]

    dumps = [run.model_dump(exclude={"run_id"}) for run in runs]
    assert dumps[0] == dumps[1] == dumps[2]
    everyone = [*harness.world.account_ids.values(), harness.world.management_id]
    assert [row.account_id for row in runs[2].accounts] == sorted(everyone)  # discovery order
    assert faults.mutating() == []


def test_progress_is_called_once_per_account_in_completion_order(monkeypatch: pytest.MonkeyPatch):
    harness = _world()
    order: list[str] = []

    def progress(row: AccountResult) -> None:
        order.append(row.account_id)

    result = run_rotation(harness.services, dry_run=True, concurrency=4, progress=progress)

    assert sorted(order) == sorted(row.account_id for row in result.accounts)
    assert len(order) == len(result.accounts) == len(SPEC.accounts) + 1  # and the management account
