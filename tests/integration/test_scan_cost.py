"""The scan at the floor of IAM calls (moto in process): exact call counts, and who is still looked at
with ListAccessKeys (users the credential report cannot call not due)."""

from __future__ import annotations

import re
from collections import Counter

import boto3
import pytest

from central.clock import fixed_clock
from central.domain.results import Outcome, RunResult
from central.rotation.run import run_rotation
from tests.integration.conftest import make_harness
from tests.integration.faults import Faults
from tests.integration.fixtures_extra import (
    LATER,
    clean_harness,
    key_ids,
    row,
    shared_botocore_loader,  # noqa: F401 - autouse: shared service models (speed)
    user_rows,
)
from tests.support.world import AccountSpec, OrgSpec, UserSpec

USERS, MANAGED = 1_000, 100


def _iam(faults: Faults) -> list[str]:
    return faults.operations("iam")


def _listed(faults: Faults) -> list[str]:
    return sorted(call.params["UserName"] for call in faults.calls if call.operation == "ListAccessKeys")


def _outcomes(result: RunResult) -> list[tuple[str, str, Outcome]]:
    return [(account.account_id, user.user, user.outcome) for account in result.accounts for user in account.users]


def test_a_steady_state_scan_of_1000_users_100_managed_none_due_makes_3_iam_calls(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch
):
    # GIVEN one opted-in account of 1,000 users, 100 of them tagged IKR:EMAIL, every key fresh
    users = [
        UserSpec(f"user{i:04d}", {"IKR:EMAIL": f"u{i}@example.com"} if i < MANAGED else {"team": "data"})
        for i in range(USERS)
    ]
    spec = OrgSpec(ous={"Workloads": {"IKR:ENABLED": "true"}}, accounts=[AccountSpec("big", "Workloads", {}, users)])
    harness = make_harness(central, spec)
    big = harness.world.account_ids["big"]
    faults = Faults(monkeypatch)

    # WHEN the first run asks IAM for a credential report, and a second run finds it made
    first = run_rotation(harness.services)
    first_iam = _iam(faults)
    first_sts = faults.operations("sts")
    faults.calls.clear()
    second = run_rotation(harness.services)

    # THEN the first run polls once more for the report, the second makes 3 IAM calls in all
    assert first_iam == [
        "GenerateCredentialReport",
        "GetAccountAuthorizationDetails",
        "GenerateCredentialReport",
        "GetCredentialReport",
    ]
    assert _iam(faults) == ["GenerateCredentialReport", "GetAccountAuthorizationDetails", "GetCredentialReport"]
    by_service = Counter(call.service for call in faults.calls)
    assert by_service == {"iam": 3, "dynamodb": 3, "organizations": 9}
    # one AssumeRole into the account (and the central account's id) for the first run; the second
    # run's broker still holds the member session (refreshable credentials), as a warm Lambda's does
    assert first_sts == ["GetCallerIdentity", "AssumeRole"]
    assert faults.operations("sts") == []
    # discovery from the root: one call per node and page (root, 1 OU, 2 accounts), no ListParents
    assert Counter(faults.operations("organizations")) == {
        "ListRoots": 1,
        "ListTagsForResource": 4,
        "ListAccountsForParent": 2,
        "ListOrganizationalUnitsForParent": 2,
    }
    assert faults.operations("dynamodb") == ["DescribeTable", "Scan", "Query"]  # table check, sweep, account items
    for result in (first, second):
        account = row(result, big)
        assert [user.outcome for user in account.users] == [Outcome.NOT_DUE] * MANAGED
        # decided from the report, which names no key ids: the key's creation day stands for it
        assert account.users[0].old_key_id is None
        assert re.fullmatch(r"key created \d{4}-\d\d-\d\d is 0 days old; due \d{4}-\d\d-\d\d", account.users[0].detail)
    assert second.exit_code == 0


def test_only_users_the_report_cannot_call_not_due_are_listed_and_rotated_users_show_pending(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch
):
    harness = clean_harness(central)  # at LATER alice, dave and olga are due; bob (200 days) is not
    ids = harness.world.account_ids
    faults = Faults(monkeypatch)

    first = run_rotation(harness.services)
    listed_first = _listed(faults)
    faults.calls.clear()
    second = run_rotation(harness.services)
    listed_second = _listed(faults)

    assert listed_first == ["alice", "dave", "olga"]  # due by the report: looked at live, then rotated
    for account, user in (("prod", "alice"), ("dev", "dave"), ("ops", "olga")):
        (rotated,) = user_rows(first, ids[account], user)
        assert rotated.outcome is Outcome.ROTATED
        # the old key's item makes them live-listed again: shown pending with the old key's id
        (pending,) = user_rows(second, ids[account], user)
        assert pending.outcome is Outcome.PENDING
        assert pending.old_key_id == key_ids(harness, account, user)[0]
    assert listed_second == ["alice", "dave", "olga"]
    (bob,) = user_rows(second, ids["prod"], "bob")
    assert bob.outcome is Outcome.NOT_DUE
    assert bob.old_key_id is None
    assert second.exit_code == 0


def test_without_a_report_every_managed_user_is_listed_and_decided_alike(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch
):
    harness = clean_harness(central)
    faults = Faults(monkeypatch)
    with_report = run_rotation(harness.services, dry_run=True)
    faults.calls.clear()
    faults.refuse("GenerateCredentialReport", code="AccessDenied")

    without = run_rotation(harness.services, dry_run=True)

    assert "GetCredentialReport" not in _iam(faults)
    assert _listed(faults) == ["alice", "bob", "dave", "olga"]
    faults.clear()
    assert without.exit_code == with_report.exit_code == 0

    assert _outcomes(without) == _outcomes(with_report)
    (bob,) = user_rows(without, harness.world.account_ids["prod"], "bob")
    assert bob.old_key_id == key_ids(harness, "prod", "bob")[0]  # live keys name the key


def test_a_run_planned_far_ahead_lists_only_the_due_users(central: boto3.Session, monkeypatch: pytest.MonkeyPatch):
    harness = clean_harness(central)
    harness.services.clock = fixed_clock(LATER.replace(year=LATER.year + 1))  # bob's 200 days are past too
    faults = Faults(monkeypatch)

    result = run_rotation(harness.services, dry_run=True)

    assert _listed(faults) == ["alice", "bob", "dave", "olga"]
    assert result.total(Outcome.WOULD_ROTATE) == 4
