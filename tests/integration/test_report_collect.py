"""The report and the plan against a whole Organization in moto: every account's state, reading only."""

from __future__ import annotations

from datetime import timedelta

import boto3
import pytest

from central.aws.expiry_item import ExpiryItem, State, epoch
from central.aws.sessions import SessionBroker
from central.clock import fixed_clock
from central.domain.policy import Action
from central.domain.results import Outcome
from central.report.collect import Reading, collect_report
from central.report.rows import AccountState, Origin, PolicyDays, RowKind
from central.rotation.run import run_rotation
from tests.integration.conftest import Harness
from tests.integration.faults import Faults
from tests.integration.fixtures_extra import LATER

NO_WAIT = Reading(sleep=lambda _seconds: None)


def fresh_broker(harness: Harness, central: boto3.Session) -> None:
    """Forget the sessions the rotation run cached, so the report assumes the roles again."""
    harness.services.broker = SessionBroker(central, "ikr-member")


def test_every_account_and_managed_user_with_its_decision_and_no_write(
    harness: Harness, central: boto3.Session, monkeypatch: pytest.MonkeyPatch
):
    # GIVEN a run 100 days ahead rotated alice and dave (their old keys wait), and dev's role now refuses ikr
    harness.services.clock = fixed_clock(LATER)
    run_rotation(harness.services)
    fresh_broker(harness, central)
    ids = harness.world.account_ids
    faults = Faults(monkeypatch)
    faults.refuse("AssumeRole", when=lambda p: ids["dev"] in p["RoleArn"])

    # WHEN the report is collected at the same instant
    report = collect_report(harness.services, reading=NO_WAIT)

    # THEN nothing was written anywhere
    assert faults.mutating() == []
    # AND every account has its state, the unreachable one with the reason
    states = {a.account_id: (a.state, a.detail) for a in report.accounts}
    assert states[ids["prod"]][0] is AccountState.OPTED_IN
    assert states[ids["sandbox"]][0] is AccountState.NOT_OPTED_IN
    assert states[harness.world.management_id][0] is AccountState.NOT_OPTED_IN
    assert states[ids["dev"]][0] is AccountState.UNREACHABLE
    assert "AccessDenied" in states[ids["dev"]][1]
    # AND prod's users, with the decisions a run would make
    prod = {row.user: row for row in report.rows if row.account_id == ids["prod"]}
    assert {user: row.decision for user, row in prod.items() if row.kind is RowKind.MANAGED} == {
        "alice": Action.PENDING,
        "bob": Action.NOT_DUE,
        "carol": Action.SKIP,
    }
    alice = prod["alice"]
    assert alice.next_action_at == LATER + timedelta(days=3)  # prod's IKR:DELETE_AFTER_DAYS
    assert [(p.state, p.deletes_at) for p in alice.pending] == [("scheduled", LATER + timedelta(days=3))]
    assert len(alice.keys) == 2
    assert alice.rotate_after is not None
    assert alice.delete_after is not None
    assert (alice.rotate_after.origin, alice.delete_after.origin) == (Origin.OU_TAG, Origin.ACCOUNT_TAG)
    assert prod["bob"].rotate_after == PolicyDays(days=200, origin=Origin.USER_TAG, source="user tag")
    # AND the untagged user whose key is older than the OU's 60 days is an unmanaged risk
    assert prod["untagged"].kind is RowKind.UNMANAGED_RISK
    assert prod["untagged"].keys[0].age_days >= 99  # made moments after LATER's "today"
    assert report.summary.unmanaged_risk == 1
    assert report.summary.failures == 2  # carol's bad address, dev unreachable


def test_without_the_credential_report_the_account_is_still_reported(harness: Harness, monkeypatch: pytest.MonkeyPatch):
    # GIVEN IAM refuses the credential report everywhere
    harness.services.clock = fixed_clock(LATER)
    Faults(monkeypatch).refuse("GenerateCredentialReport")

    report = collect_report(harness.services, reading=NO_WAIT)

    # THEN the managed users are there, untagged users are not judged, and the account says why
    prod = next(a for a in report.accounts if a.account_id == harness.world.account_ids["prod"])
    assert prod.state is AccountState.OPTED_IN
    assert prod.managed_users == 3
    assert prod.unmanaged_risk == 0
    assert prod.notes == [
        "credential report not read (AccessDenied: injected: AccessDenied for GenerateCredentialReport): "
        "last use unknown, untagged users not checked"
    ]


def test_plan_makes_no_write_even_with_overdue_items_and_an_interrupted_rotation(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
):
    # GIVEN a real run 100 days ahead, then a rotation of bob that a crash left in its journal
    harness.services.clock = fixed_clock(LATER)
    run_rotation(harness.services)
    prod = harness.world.account_ids["prod"]
    bob_key = harness.world.iam("prod").list_access_keys(UserName="bob")["AccessKeyMetadata"][0]["AccessKeyId"]
    harness.table.begin(
        ExpiryItem(account_id=prod, user_name="bob", old_key_id=bob_key, state=State.STARTED, started_at=epoch(LATER))
    )
    mails = len(harness.mailer.sent)
    faults = Faults(monkeypatch)

    # WHEN the plan looks 150 days further: old keys overdue for the sweep, bob's key past his 200 days
    harness.services.clock = fixed_clock(LATER + timedelta(days=150))
    result = run_rotation(harness.services, dry_run=True)

    # THEN it says what it would do, and no mutating call reached the emulator, nor a mail the sink
    outcomes = [(a.account_name, u.user, u.outcome) for a in result.accounts for u in a.users]
    assert ("prod", "bob", Outcome.WOULD_RECOVER) in outcomes
    assert ("prod", "bob", Outcome.WOULD_ROTATE) in outcomes
    assert faults.mutating() == []
    assert len(harness.mailer.sent) == mails
    assert "DescribeTable" in faults.operations("dynamodb")  # it did read
