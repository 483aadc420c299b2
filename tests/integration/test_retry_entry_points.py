"""The retry run's entry points: `ikr retry` and the rotator Lambda with the retry schedule's event."""

from __future__ import annotations

import json
from datetime import timedelta

import boto3
import pytest

from central.aws.expiry_table import ExpiryTable
from central.aws.stream_pump import LocalLambdaContext
from handlers import rotator
from tests.integration.cli_world import ikr
from tests.integration.conftest import TABLE
from tests.integration.faults import Faults
from tests.integration.fixtures_extra import (
    LATER,
    shared_botocore_loader,  # noqa: F401 - autouse: shared service models (speed)
)
from tests.support.world import AccountSpec, OrgSpec, UserSpec, build_world

# `ikr`'s main() points the ikr logger at the test's captured stderr: put it back afterwards.
pytestmark = pytest.mark.usefixtures("ikr_logging_restored")
SPEC = OrgSpec(
    ous={"Work": {"IKR:ENABLED": "true", "IKR:ROTATE_AFTER_DAYS": "60"}},
    accounts=[AccountSpec("prod", "Work", {}, [UserSpec("alice", {"IKR:EMAIL": "alice@example.com"})])],
)


@pytest.fixture
def ses_org(central: boto3.Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """An Organization whose mail goes through SES, with the sender not yet verified (moto's SES refuses
    it, as AWS does in the sandbox: MessageRejected)."""
    build_world(central, SPEC)
    ExpiryTable(central.client("dynamodb"), TABLE).create()
    for name, value in {
        "MAIL_CLIENT": "ses",
        "MAIL_FROM": "ikr@example.com",
        "IAM_KEY_ROTATOR_TABLE": TABLE,
        "IKR_ALLOW_CLOCK_OVERRIDE": "1",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)


def at_minutes(minutes: int) -> list[str]:
    return ["--now", (LATER + timedelta(minutes=minutes)).isoformat()]


@pytest.fixture
def ses_throttled(ses_org: None, central: boto3.Session, monkeypatch: pytest.MonkeyPatch) -> Faults:
    """The sender verified, and SES throttling every send past botocore's retries (clear() ends it):
    a failure minutes mend, so the retry run takes it up."""
    central.client("ses").verify_email_identity(EmailAddress="ikr@example.com")
    faults = Faults(monkeypatch)
    faults.refuse("SendEmail", code="Throttling", message="Maximum sending rate exceeded.", status=400)
    return faults


def test_ikr_retry_rotates_a_user_whose_mail_failed_once_retry_after_mins_have_passed(
    ses_throttled: Faults, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
):
    failed = ikr(capsys, caplog, "rotate")  # SES throttled past the retries: alice is postponed
    assert failed.code == 1
    assert "delivery failed" in failed.line_for("alice")
    ses_throttled.clear()

    early = ikr(capsys, caplog, "retry", *at_minutes(4), days=None)
    assert early.code == 0
    assert early.out.splitlines()[0].endswith("0 account(s) with postponed rotations worked again")

    retried = ikr(capsys, caplog, "retry", *at_minutes(5), days=None)
    assert retried.code == 0, retried.out
    assert "rotated" in retried.line_for("alice")
    assert retried.out.splitlines()[-1] == "all well"


def test_the_rotator_runs_the_retry_run_on_the_retry_schedule_s_event(
    ses_throttled: Faults, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("IKR_NOW", LATER.isoformat())
    rotator.handler({"detail-type": "Scheduled Event", "detail": {}}, LocalLambdaContext(function_name="ikr-rotator"))
    ses_throttled.clear()
    monkeypatch.setenv("IKR_NOW", (LATER + timedelta(minutes=5)).isoformat())

    result = rotator.handler({"ikr": "retry"}, LocalLambdaContext(function_name="ikr-rotator"))

    assert json.dumps(result)  # plain JSON for Lambda
    assert result["swept"] == 0
    (account,) = result["accounts"]
    assert [(user["user"], user["outcome"]) for user in account["users"]] == [("alice", "rotated")]


def test_an_unverified_sender_waits_for_the_daily_run_not_the_retry_run(
    ses_org: None, central: boto3.Session, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
):
    """MessageRejected needs a person (verify the address): retrying every few minutes would make and
    remove a key each time for nothing."""
    failed = ikr(capsys, caplog, "rotate")
    assert failed.code == 1
    assert "MessageRejected" in failed.line_for("alice")
    central.client("ses").verify_email_identity(EmailAddress="ikr@example.com")

    retried = ikr(capsys, caplog, "retry", *at_minutes(5), days=None)
    assert retried.out.splitlines()[0].endswith("0 account(s) with postponed rotations worked again")

    daily = ikr(capsys, caplog, "rotate", *at_minutes(60))
    assert daily.code == 0, daily.out
    assert "rotated" in daily.line_for("alice")
