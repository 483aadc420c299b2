"""Reminders and exemptions through the real `ikr rotate` and `ikr report` against a moto server and
an SMTP sink: the mail a person gets, once; the report's sections."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from tests.e2e.conftest import E2E, TODAY

pytestmark = pytest.mark.e2e

# The Workloads OU rotates after 60 days: alice's and dave's keys, made today, are due on day 61.
DAY_56 = (TODAY + timedelta(days=56)).isoformat(timespec="seconds")
REMINDER = "Access Key Rotation Ahead"


def _reminders(e2e: E2E) -> list[str]:
    return sorted(mail.to for mail in e2e.sink.messages if mail.subject.startswith(REMINDER))


def test_rotate_reminds_users_near_due_once_and_the_report_shows_it(e2e: E2E) -> None:
    e2e.create_table()
    until = (TODAY + timedelta(days=200)).date().isoformat()
    e2e.client("dev", "iam").tag_user(
        UserName="dave",
        Tags=[{"Key": "IKR:EXEMPT_UNTIL", "Value": until}, {"Key": "IKR:EXEMPT_REASON", "Value": "vendor audit"}],
    )

    dry = e2e.ikr("rotate", "--dry-run", "--now", DAY_56)
    first = e2e.ikr("rotate", "--now", DAY_56)
    second = e2e.ikr("rotate", "--now", DAY_56)

    assert "would remind alice@example.com" in dry.line_for("alice")
    assert first.code == second.code == 1  # carol's bad tag, as before
    assert "reminded alice@example.com: rotated on " in first.line_for("alice")
    assert "reminded" not in second.line_for("alice")
    assert f"exempt through {until} (IKR:EXEMPT_UNTIL): vendor audit" in first.line_for("dave")
    assert _reminders(e2e) == ["alice@example.com"]  # dave is exempt, bob is not near due
    mail = next(m for m in e2e.sink.messages if m.subject.startswith(REMINDER))
    (key,) = e2e.keys("prod", "alice")
    assert f"Your access key {key} of IAM user alice" in mail.text
    assert "Update the CI secret. Then restart the deploy job." in mail.text
    assert e2e.items() == []  # no rotation item was made
    assert [item["key_id"] for item in e2e.reminders()] == [key]

    report = e2e.ikr("report", "--now", DAY_56)
    as_csv = e2e.ikr("report", "--now", DAY_56, "--format", "csv", "--out", "r.csv")

    assert report.code == 1
    assert f"{e2e.account('dev')} dave: through {until} (active): vendor audit  WARNING: " in report.stdout
    assert "longer than 90" in report.stdout
    assert f"{e2e.account('prod')} alice: key {key} reminded " in report.stdout
    assert as_csv.code == 1
    raw = (e2e.cwd / "r.csv").read_bytes().decode("utf-8-sig")
    rows = {row["user"]: row for row in csv.DictReader(io.StringIO(raw, newline=""))}
    assert rows["dave"]["exempt_until"] == until
    assert rows["dave"]["exempt_reason"] == "vendor audit"
    assert rows["alice"]["reminders_sent"].startswith(f"{key} ")


def test_a_bad_exemption_date_and_a_bad_reminder_count_are_named(e2e: E2E) -> None:
    e2e.create_table()
    e2e.client("prod", "iam").tag_user(UserName="alice", Tags=[{"Key": "IKR:EXEMPT_UNTIL", "Value": "next week"}])
    e2e.client("dev", "iam").tag_user(UserName="dave", Tags=[{"Key": "IKR:REMIND_BEFORE_DAYS", "Value": "-3"}])

    run = e2e.ikr("rotate", "--now", DAY_56)

    assert run.code == 1
    assert "IKR:EXEMPT_UNTIL='next week' is not a date written YYYY-MM-DD" in run.line_for("alice")
    assert "IKR:REMIND_BEFORE_DAYS='-3' is not a whole number of days" in run.line_for("dave")
    assert _reminders(e2e) == []
