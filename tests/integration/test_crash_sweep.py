"""Crash after every AWS call of a rotation, enumerated from a recorded run, then rerun once the
crashed run's lease has expired: the user ends with the old key plus exactly one new key, that key is
the one every mail carried, the old key is scheduled, and nothing half-done stays (no journal entry,
no pending pair, no stray key).

The one other ending allowed is for a crash right after CreateAccessKey, before the new key's id was
journalled: ikr cannot prove that key is its own (a person may have made it), so it never deletes it
and never sends it; it makes it Inactive behind an `unrecorded` expiry item, tells the user, and the
old key keeps working (rule 2 of the trust issue)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable

import boto3
import pytest

from central.aws.expiry_item import State
from central.clock import fixed_clock
from central.rotation.run import run_rotation
from tests.integration.conftest import Harness, make_harness
from tests.integration.faults import Crash, Faults, Params
from tests.integration.fixtures_extra import (
    LATER,
    after_lease,
    client,
    delivered_key_id,
    items,
    journal,
    key_ids,
    mails_to,
    pending_pair_exists,
    shared_botocore_loader,  # noqa: F401 - autouse: shared service models (speed)
)
from tests.support.emulator import reset_emulator
from tests.support.world import AccountSpec, OrgSpec, UserSpec

pytestmark = pytest.mark.slow

SPEC = OrgSpec(
    ous={"Workloads": {"IKR:ENABLED": "true"}},
    accounts=[AccountSpec("prod", "Workloads", {}, [UserSpec("alice", {"IKR:EMAIL": "alice@example.com"})])],
)


# A machine user whose key goes to Secrets Manager: the same guarantees over the store's calls.
MACHINE_SPEC = OrgSpec(
    ous={"Workloads": {"IKR:ENABLED": "true"}},
    accounts=[
        AccountSpec(
            "prod",
            "Workloads",
            {},
            [UserSpec("alice", {"IKR:EMAIL": "alice@example.com", "IKR:DELIVERY": "secretsmanager:ikr/alice"})],
        )
    ],
)


def _world(spec: OrgSpec = SPEC) -> Harness:
    harness = make_harness(boto3.Session(region_name="us-east-1"), spec)
    harness.services.clock = fixed_clock(LATER)
    return harness


def _nth(n: int) -> Callable[[Params], bool]:
    """True for the n-th matching call only."""
    count = iter(range(1, 1_000_000))
    return lambda _params: next(count) == n


def _recorded_calls(monkeypatch: pytest.MonkeyPatch, spec: OrgSpec) -> list[tuple[str, str, int]]:
    """Every (service, operation, occurrence) of one ordinary run, in order."""
    reset_emulator()
    harness = _world(spec)
    faults = Faults(monkeypatch)
    run_rotation(harness.services)
    faults.clear()
    seen: Counter[tuple[str, str]] = Counter()
    points = []
    for call in faults.calls:
        seen[call.service, call.operation] += 1
        points.append((call.service, call.operation, seen[call.service, call.operation]))
    return points


def _set_aside(harness: Harness) -> str | None:
    """What is wrong with alice's state if ikr set aside a key it never recorded, or None when the old
    key works, the other is Inactive behind an `unrecorded` item, and no secret went out."""
    iam = client(harness, "prod", "iam")
    statuses = [k["Status"] for k in iam.list_access_keys(UserName="alice")["AccessKeyMetadata"]]
    keys = key_ids(harness, "prod", "alice")
    if len(keys) != 2 or statuses.count("Active") != 1:
        return f"keys {keys} {statuses}"
    scheduled = [(i.state, i.old_key_id, i.unrecorded) for i in items(harness, "prod")]
    inactive = keys[statuses.index("Inactive")]
    if scheduled != [(State.SCHEDULED, inactive, True)]:
        return f"table holds {scheduled}"
    if any("Secret Access Key" in mail.text for mail in mails_to(harness, "alice@example.com")):
        return "a secret was mailed for a key ikr cannot prove it made"
    if journal(harness) or pending_pair_exists(harness, "prod", "alice"):
        return "a journal entry or pending pair was left"
    return None


def _survives(harness: Harness, unrecorded_allowed: bool = False) -> str | None:
    """What is wrong with alice's state, or None when every guarantee holds."""
    if unrecorded_allowed and any(i.unrecorded for i in items(harness, "prod")):
        return _set_aside(harness)
    keys = key_ids(harness, "prod", "alice")
    mails = mails_to(harness, "alice@example.com")
    if len(keys) != 2 or not mails:
        return f"keys {keys}, {len(mails)} mail(s)"
    old, new = keys
    if "Secrets Manager" in mails[0].subject:
        secret = client(harness, "prod", "secretsmanager").get_secret_value(SecretId="ikr/alice")["SecretString"]
        delivered = {json.loads(secret)["AccessKeyId"]}
        if any(new not in mail.text for mail in mails):
            return "a notice does not name the key the user holds"
    else:
        delivered = {delivered_key_id(harness, "prod", "alice", mail) for mail in mails}
    if delivered != {new}:
        return f"delivered {delivered}, the user holds {keys}"
    scheduled = [(i.state, i.old_key_id, i.new_key_id) for i in items(harness, "prod")]
    if scheduled != [(State.SCHEDULED, old, new)]:
        return f"table holds {scheduled}"
    if journal(harness) or pending_pair_exists(harness, "prod", "alice"):
        return "a journal entry or pending pair was left"
    return None


@pytest.mark.parametrize("spec", [SPEC, MACHINE_SPEC], ids=["mail", "secrets-manager"])
def test_a_crash_after_any_aws_call_is_survived_within_two_reruns(monkeypatch: pytest.MonkeyPatch, spec: OrgSpec):
    points = _recorded_calls(monkeypatch, spec)
    assert len(points) > 20  # discovery, sweep, scan, and every step of the rotation
    failures: dict[str, str] = {}
    for service, operation, occurrence in points:
        reset_emulator()  # a fresh emulator: every crash point starts from the same world
        harness = _world(spec)
        faults = Faults(monkeypatch)
        faults.crash_after(operation, service=service, when=_nth(occurrence))
        crashed = False
        try:
            run_rotation(harness.services)
        except Crash:
            crashed = True
        faults.clear()
        unrecorded_allowed = (service, operation) == ("iam", "CreateAccessKey")
        for _ in range(2):
            if _survives(harness, unrecorded_allowed) is None:
                break
            after_lease(harness)  # within the lease a rerun only reports the rotation in progress
            run_rotation(harness.services)
        problem = _survives(harness, unrecorded_allowed)
        if not crashed or problem is not None:
            failures[f"{service}:{operation}#{occurrence}"] = problem or "did not crash"
    print(f"crash points tried: {len(points)}, survived: {len(points) - len(failures)}: {points}")
    assert failures == {}
