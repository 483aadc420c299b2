"""Issue 16, gap 1: accounts as AWS lists them since 2026-09-09, with `State` and no `Status`.

moto still answers `Status` (and `State`); an `after-call` hook on every botocore session rewrites the
parsed ListAccountsForParent answer into AWS's late-2026 shape before ikr reads it: `Status` dropped,
`State` set per account. A suspended or closing account is left out as before; a state ikr does not
know is never taken for ACTIVE: the run's row and the report's scope column say why it was not worked.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import botocore.handlers
import pytest

from central.domain import account_state
from central.domain.results import AccountStatus
from central.report.collect import Reading, collect_report
from central.report.rows import AccountState
from central.rotation.run import run_rotation
from tests.integration.conftest import Harness, make_harness
from tests.support.world import AccountSpec, OrgSpec, UserSpec

SPEC = OrgSpec(
    ous={"Workloads": {"IKR:ENABLED": "true"}},
    accounts=[
        AccountSpec(name, "Workloads", {}, [UserSpec("alice", {"IKR:EMAIL": "alice@example.com"})])
        for name in ("prod", "suspended", "closing", "closed", "joining", "migrating")
    ],
)
STATES = {
    "prod": "ACTIVE",
    "suspended": "SUSPENDED",
    "closing": "PENDING_CLOSURE",
    "closed": "CLOSED",
    "joining": "PENDING_ACTIVATION",
    "migrating": "MIGRATING",  # a state AWS may add one day
}


@pytest.fixture
def late_2026(central: boto3.Session) -> Iterator[dict[str, str]]:
    """Every session made from here on sees accounts with `State` only; the map is by account name."""
    states: dict[str, str] = dict(STATES)

    def rewrite(parsed: dict[str, Any], **_kwargs: Any) -> None:
        for account in parsed.get("Accounts", []):
            account.pop("Status", None)
            account["State"] = states.get(account.get("Name", ""), "ACTIVE")

    spec = ("after-call.organizations.ListAccountsForParent", rewrite)
    central.events.register(*spec)  # the session the tests' services are built on
    botocore.handlers.BUILTIN_HANDLERS.append(spec)
    try:
        yield states
    finally:
        botocore.handlers.BUILTIN_HANDLERS.remove(spec)


@pytest.fixture
def harness(central: boto3.Session, late_2026: dict[str, str]) -> Harness:
    return make_harness(central, SPEC)


def test_state_is_read_and_status_only_when_state_is_absent():
    assert account_state.state_of({"State": "SUSPENDED", "Status": "ACTIVE"}) == "SUSPENDED"
    assert account_state.state_of({"Status": "SUSPENDED"}) == "SUSPENDED"
    assert account_state.state_of({}) == account_state.NONE_GIVEN
    assert account_state.unknown(account_state.NONE_GIVEN)  # neither field: never taken for ACTIVE
    assert not account_state.unknown("PENDING_CLOSURE")


def test_only_active_accounts_are_worked_and_an_unknown_state_is_reported(harness: Harness):
    ids = harness.world.account_ids

    # WHEN a run sees accounts carrying State only
    result = run_rotation(harness.services)

    # THEN the ACTIVE one is worked, the suspended, closing, closed and joining ones are left out
    rows = {row.account_id: row for row in result.accounts}
    assert rows[ids["prod"]].status is AccountStatus.DONE
    for name in ("suspended", "closing", "closed", "joining"):
        assert ids[name] not in rows
    # AND the unknown state is a row that says why, never a rotation
    migrating = rows[ids["migrating"]]
    assert migrating.status is AccountStatus.FAILED
    assert migrating.detail == account_state.unknown_detail("MIGRATING")
    assert migrating.users == []
    assert result.exit_code == 1


def test_the_report_says_why_an_account_in_an_unknown_state_was_not_worked(harness: Harness):
    report = collect_report(harness.services, reading=Reading(wait_seconds=0, sleep=lambda _s: None))

    states = {row.account_id: row for row in report.accounts}
    ids = harness.world.account_ids
    assert states[ids["prod"]].state is AccountState.OPTED_IN
    assert states[ids["migrating"]].state is AccountState.UNREACHABLE
    assert states[ids["migrating"]].detail == account_state.unknown_detail("MIGRATING")
    assert ids["suspended"] not in states
