"""Reminders before a rotation and exemptions with an end, across several accounts (moto in process).

The default Organization (tests/integration/conftest.py): the Workloads OU rotates after 60 days, so
alice (prod) and dave (dev), whose keys are made today, are due on day 61 and within the default
7-day reminder window from day 54; bob (200 days) is not near due.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from boto3.dynamodb.types import TypeDeserializer

from central.aws.expiry_table import AccountRecords
from central.aws.reminders import Reminder, is_reminder
from central.aws.stream_pump import LocalLambdaContext
from central.clock import fixed_clock
from central.domain.results import Outcome
from central.notify.notice import Event
from central.report.collect import Reading, collect_report
from central.report.render_html import render_html
from central.report.render_text import render_csv, render_table
from central.rotation.run import run_rotation
from handlers import destructor
from tests.integration.conftest import TABLE, Harness, make_harness
from tests.integration.faults import Faults
from tests.support.notices import RecordingNotifier
from tests.support.world import AccountSpec, OrgSpec, UserSpec

TODAY = datetime.now(UTC)
IN_WINDOW = TODAY + timedelta(days=56)  # due on day 61: 5 days ahead
DUE = TODAY + timedelta(days=62)
NO_WAIT = Reading(wait_seconds=0, sleep=lambda _: None)


def reminder_mails(harness: Harness) -> list[str]:
    return sorted(mail.to for mail in harness.mailer.sent if mail.subject.startswith("Access Key Rotation Ahead"))


def records(harness: Harness) -> list[dict[str, Any]]:
    raw = harness.table._db.scan(TableName=TABLE, ConsistentRead=True)["Items"]
    plain = TypeDeserializer()
    return [{k: plain.deserialize(v) for k, v in item.items()} for item in raw if is_reminder(item)]


def user_row(result: Any, account_id: str, user: str) -> Any:
    account = next(a for a in result.accounts if a.account_id == account_id)
    return next(u for u in account.users if u.user == user)


def test_users_near_due_in_several_accounts_are_reminded_once_per_key(harness: Harness):
    harness.services.clock = fixed_clock(IN_WINDOW)
    notifier = RecordingNotifier()
    harness.services.notifier = notifier
    ids = harness.world.account_ids

    first = run_rotation(harness.services)

    assert reminder_mails(harness) == ["alice@example.com", "dave@example.com"]
    alice = user_row(first, ids["prod"], "alice")
    assert alice.outcome is Outcome.NOT_DUE
    assert "reminded alice@example.com: rotated on" in alice.detail
    assert "reminded" not in user_row(first, ids["prod"], "bob").detail  # 200 days: not near due
    mail = next(m for m in harness.mailer.sent if m.to == "alice@example.com")
    key = harness.world.iam("prod").list_access_keys(UserName="alice")["AccessKeyMetadata"][0]["AccessKeyId"]
    assert f"Your access key {key} of IAM user alice" in mail.text
    assert "Here is what will happen" in mail.text
    assert "deleted" in mail.text  # what happens to the old key, and when
    assert "Update CI." in mail.text  # the user's own instructions
    sent = [n for n in notifier.notices if n.event is Event.REMINDER_SENT]
    assert sorted((n.user, n.old_key_id == key) for n in sent) == [("alice", True), ("dave", False)]
    assert {record["user_name"] for record in records(harness)} == {"alice", "dave"}
    assert all(record["sent_at"] and record["expires_at"] > record["due_at"] for record in records(harness))

    second = run_rotation(harness.services)

    assert reminder_mails(harness) == ["alice@example.com", "dave@example.com"]  # not again
    assert "reminded" not in user_row(second, ids["prod"], "alice").detail
    # the records are no rotation items: the journal and the pending keys never see them
    assert harness.table.for_account(ids["prod"]) == []


def test_two_runs_at_once_send_one_reminder(harness: Harness, monkeypatch: pytest.MonkeyPatch):
    """The second run read the account before the first wrote its record (runs overlap): the
    conditional claim stops it from mailing too."""
    harness.services.clock = fixed_clock(IN_WINDOW)
    prod = harness.world.account_ids["prod"]
    run_rotation(harness.services, only=[prod])
    assert reminder_mails(harness) == ["alice@example.com"]
    real = type(harness.table).account_records

    def read_before_the_other_wrote(table: Any, account_id: str) -> AccountRecords:
        return AccountRecords(real(table, account_id).items, ())

    monkeypatch.setattr(type(harness.table), "account_records", read_before_the_other_wrote)
    overlapping = run_rotation(harness.services, only=[prod])

    assert reminder_mails(harness) == ["alice@example.com"]
    assert "reminded" not in user_row(overlapping, prod, "alice").detail


def test_a_claim_left_by_a_crashed_run_is_taken_over_after_the_lease(harness: Harness):
    harness.services.clock = fixed_clock(IN_WINDOW)
    prod = harness.world.account_ids["prod"]
    key = harness.world.iam("prod").list_access_keys(UserName="alice")["AccessKeyMetadata"][0]
    stale = int((IN_WINDOW - timedelta(hours=1)).timestamp())
    crashed = Reminder(
        account_id=prod,
        user_name="alice",
        key_id=key["AccessKeyId"],
        key_created=int(key["CreateDate"].timestamp()),
        due_at=int(DUE.timestamp()),
        claimed_by="crashed-run",
        claimed_at=stale,
        expires_at=int((DUE + timedelta(days=30)).timestamp()),
    )
    harness.table._db.put_item(TableName=TABLE, Item=crashed.to_item())

    run_rotation(harness.services, only=[prod])

    assert reminder_mails(harness) == ["alice@example.com"]  # a duplicate rather than none
    (record,) = [r for r in records(harness) if r["user_name"] == "alice"]
    assert record["claimed_by"] != "crashed-run"
    assert record["sent_at"]


def test_mail_down_sends_no_reminder_fails_nothing_and_the_next_run_sends_it(harness: Harness):
    harness.services.clock = fixed_clock(IN_WINDOW)
    prod = harness.world.account_ids["prod"]
    harness.mailer.down = True

    down = run_rotation(harness.services, only=[prod])

    alice = user_row(down, prod, "alice")
    assert alice.outcome is Outcome.NOT_DUE
    assert alice.failed is False
    assert "reminder not sent (mail system down for alice@example.com); the next run tries again" in alice.detail
    assert records(harness) == []  # the claim was given back

    harness.mailer.down = False
    run_rotation(harness.services, only=[prod])

    assert reminder_mails(harness) == ["alice@example.com"]


def test_a_dry_run_sends_and_records_nothing(harness: Harness):
    harness.services.clock = fixed_clock(IN_WINDOW)
    prod = harness.world.account_ids["prod"]

    result = run_rotation(harness.services, dry_run=True, only=[prod])

    assert "would remind alice@example.com that it is rotated on" in user_row(result, prod, "alice").detail
    assert harness.mailer.sent == []
    assert records(harness) == []


def test_a_user_tag_changes_the_window_and_zero_turns_it_off(harness: Harness):
    iam = harness.world.iam("prod")
    iam.tag_user(UserName="alice", Tags=[{"Key": "IKR:REMIND_BEFORE_DAYS", "Value": "0"}])
    iam.tag_user(UserName="bob", Tags=[{"Key": "IKR:REMIND_BEFORE_DAYS", "Value": "150"}])
    harness.services.clock = fixed_clock(IN_WINDOW)

    run_rotation(harness.services, only=[harness.world.account_ids["prod"]])

    assert reminder_mails(harness) == ["bob@example.com"]


def test_the_setting_zero_turns_reminders_off(harness: Harness):
    harness.settings(REMIND_BEFORE_DAYS=0)
    harness.services.clock = fixed_clock(IN_WINDOW)

    run_rotation(harness.services)

    assert reminder_mails(harness) == []


def test_an_exempt_user_is_neither_reminded_nor_rotated_until_its_date(harness: Harness):
    iam = harness.world.iam("prod")
    until = (DUE + timedelta(days=10)).date()
    iam.tag_user(
        UserName="alice",
        Tags=[{"Key": "IKR:EXEMPT_UNTIL", "Value": until.isoformat()}, {"Key": "IKR:EXEMPT_REASON", "Value": "audit"}],
    )
    prod = harness.world.account_ids["prod"]

    harness.services.clock = fixed_clock(IN_WINDOW)
    run_rotation(harness.services, only=[prod])
    harness.services.clock = fixed_clock(DUE)
    exempt = run_rotation(harness.services, only=[prod])

    alice = user_row(exempt, prod, "alice")
    assert alice.outcome is Outcome.SKIPPED
    assert alice.failed is False
    assert alice.detail.startswith(f"exempt through {until} (IKR:EXEMPT_UNTIL): audit; key ")
    assert harness.mailer.sent == []

    harness.services.clock = fixed_clock(datetime.combine(until + timedelta(days=1), datetime.min.time(), UTC))
    lapsed = run_rotation(harness.services, only=[prod])

    assert user_row(lapsed, prod, "alice").outcome is Outcome.ROTATED


@pytest.mark.parametrize(
    ("tag", "value", "detail"),
    [
        (
            "IKR:REMIND_BEFORE_DAYS",
            "soon",
            "IKR:REMIND_BEFORE_DAYS='soon' is not a whole number of days (0 turns reminders off)",
        ),
        (
            "IKR:EXEMPT_UNTIL",
            "2027-02-30",
            "IKR:EXEMPT_UNTIL='2027-02-30' is not a date of the calendar (day is out of range for month)",
        ),
    ],
)
def test_a_bad_reminder_or_exemption_tag_is_a_problem_naming_tag_and_value(
    harness: Harness, tag: str, value: str, detail: str
):
    harness.world.iam("prod").tag_user(UserName="alice", Tags=[{"Key": tag, "Value": value}])
    harness.services.clock = fixed_clock(DUE)
    prod = harness.world.account_ids["prod"]

    result = run_rotation(harness.services, only=[prod])

    alice = user_row(result, prod, "alice")
    assert alice.outcome is Outcome.SKIPPED
    assert alice.failed is True
    # the row is alice's in prod's account; the log line names both too
    assert alice.detail == detail
    assert harness.mailer.sent == []


def test_the_report_lists_exemptions_with_warnings_and_the_reminders_sent(harness: Harness):
    iam = harness.world.iam("dev")
    far = (IN_WINDOW + timedelta(days=200)).date()
    iam.tag_user(UserName="dave", Tags=[{"Key": "IKR:EXEMPT_UNTIL", "Value": far.isoformat()}])
    harness.services.clock = fixed_clock(IN_WINDOW)
    run_rotation(harness.services)

    report = collect_report(harness.services, reading=NO_WAIT)

    rows = {row.user: row for row in report.rows if row.user}
    assert rows["dave"].exemption is not None
    assert rows["dave"].exemption.active
    dave_key = rows["dave"].keys[0].key_id
    assert rows["dave"].next_action == f"none: exempt through {far}; then rotate key {dave_key} if due"
    assert any("has no reason" in w for w in rows["dave"].exemption.warnings)
    assert any("longer than 90" in w for w in rows["dave"].exemption.warnings)
    (reminded,) = rows["alice"].reminders
    assert reminded.key_id == rows["alice"].keys[0].key_id
    assert reminded.channel == "mail to alice@example.com"
    table = render_table(report)
    assert f"through {far} (active): (no reason)  WARNING: " in table
    assert f"key {reminded.key_id} reminded " in table
    csv = render_csv(report)
    assert csv.splitlines()[0].endswith("exempt_until,exempt_reason,exemption_active,exemption_warnings,reminders_sent")
    html = render_html(report)
    assert "<table id='exemptions'>" in html
    assert "<table id='reminders'>" in html


def test_the_destructor_ignores_a_reminder_record_removed_by_ttl(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    harness.services.clock = fixed_clock(IN_WINDOW)
    prod = harness.world.account_ids["prod"]
    run_rotation(harness.services, only=[prod])
    raw = next(
        item
        for item in harness.table._db.scan(TableName=TABLE, ConsistentRead=True)["Items"]
        if is_reminder(item) and item["user_name"] == {"S": "alice"}
    )
    keys_before = harness.world.iam("prod").list_access_keys(UserName="alice")["AccessKeyMetadata"]
    harness.table._db.delete_item(TableName=TABLE, Key={"account_id": raw["account_id"], "item_key": raw["item_key"]})
    monkeypatch.setenv("MAIL_FROM", "ikr@example.com")
    monkeypatch.setenv("IAM_KEY_ROTATOR_TABLE", TABLE)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "ikr-test")
    record = {
        "eventID": "ttl-1",
        "eventName": "REMOVE",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
        "dynamodb": {
            "Keys": {"account_id": raw["account_id"], "item_key": raw["item_key"]},
            "OldImage": raw,
            "SequenceNumber": "4242",
            "SizeBytes": 200,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
        "eventSourceARN": f"arn:aws:dynamodb:us-east-1:123456789012:table/{TABLE}/stream/2025-01-01T00:00:00.000",
    }

    response = destructor.handler({"Records": [record]}, LocalLambdaContext())

    assert response["batchItemFailures"] == []
    assert harness.world.iam("prod").list_access_keys(UserName="alice")["AccessKeyMetadata"] == keys_before
    assert "not acted on" not in caplog.text
    assert harness.table._db.scan(TableName=TABLE)["Items"] == [
        item for item in harness.table._db.scan(TableName=TABLE)["Items"] if is_reminder(item)
    ]  # no tombstone or put-back was written for it


def test_the_sweep_and_the_retry_index_never_see_a_reminder_record(harness: Harness):
    harness.services.clock = fixed_clock(IN_WINDOW)
    run_rotation(harness.services)
    assert records(harness)

    assert harness.table.sweep(DUE + timedelta(days=400)) == []
    assert harness.table.retries.due(int((DUE + timedelta(days=400)).timestamp())).items == ()
    assert len(records(harness)) == 2  # still there: only TTL removes them


def test_a_reminder_costs_three_calls_once_and_nothing_on_later_runs(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch
):
    """Issue 15's budget kept: a user not near due costs no call; the reminder itself ListAccessKeys
    (the report names no key id), PutItem (the claim) and UpdateItem (sent), once; the mail is the
    mailer's; every later run is the steady state again."""
    users = [UserSpec(f"user{i}", {"IKR:EMAIL": f"u{i}@example.com"}) for i in range(5)]
    spec = OrgSpec(ous={"Work": {"IKR:ENABLED": "true", "IKR:ROTATE_AFTER_DAYS": "60"}}, accounts=[])
    spec.accounts.append(AccountSpec("prod", "Work", {}, users))
    harness = make_harness(central, spec)
    faults = Faults(monkeypatch)

    def counted(at: datetime) -> Counter[str]:
        faults.calls.clear()
        harness.services.clock = fixed_clock(at)
        run_rotation(harness.services)
        return Counter(f"{call.service}:{call.operation}" for call in faults.calls)

    counted(TODAY + timedelta(days=10))  # the first run has IAM make the credential report
    steady = counted(TODAY + timedelta(days=11))
    reminding = counted(IN_WINDOW)
    after = counted(IN_WINDOW + timedelta(hours=1))

    assert reminding - steady == Counter({"iam:ListAccessKeys": 5, "dynamodb:PutItem": 5, "dynamodb:UpdateItem": 5})
    assert steady - reminding == Counter()
    assert after == steady
    assert len(reminder_mails(harness)) == 5
