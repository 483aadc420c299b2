"""The rotator Lambda: the EventBridge schedule event in, one run, the run's result as JSON out."""

from __future__ import annotations

import json

import boto3
import pytest

from central.aws.expiry_table import ExpiryTable
from central.aws.stream_pump import LocalLambdaContext
from central.domain.errors import SettingsError
from handlers import rotator
from tests.integration.conftest import TABLE, default_spec
from tests.integration.fixtures_extra import LATER
from tests.support.world import build_world

SCHEDULE_EVENT = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-11-25T12:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/ikr-rotator"],
    "detail": {},
}


def test_the_scheduled_run_rotates_through_ses_and_emits_metrics(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    # GIVEN an Organization, the table, SES with a verified sender, and the Lambda's settings
    world = build_world(central, default_spec())
    ExpiryTable(central.client("dynamodb"), TABLE).create()
    central.client("ses").verify_email_identity(EmailAddress="ikr@example.com")
    monkeypatch.setenv("MAIL_FROM", "ikr@example.com")
    monkeypatch.setenv("IAM_KEY_ROTATOR_TABLE", TABLE)
    monkeypatch.setenv("IKR_NOW", LATER.isoformat())

    # WHEN the schedule fires
    result = rotator.handler(SCHEDULE_EVENT, LocalLambdaContext(function_name="ikr-rotator"))

    # THEN due users of opted-in accounts are rotated, and the bad tag shows in the JSON result
    accounts = {row["account_id"]: row for row in result["accounts"]}
    prod = accounts[world.account_ids["prod"]]
    outcomes = {user["user"]: user["outcome"] for user in prod["users"]}
    assert outcomes == {"alice": "rotated", "bob": "not-due", "carol": "skipped"}
    assert accounts[world.account_ids["sandbox"]]["status"] == "not-opted-in"
    assert json.dumps(result)  # the response is plain JSON for Lambda
    sent = central.client("ses").get_send_statistics()["SendDataPoints"]
    assert sum(point["DeliveryAttempts"] for point in sent) == 2  # alice and dave
    # AND one EMF line with the run's counts reaches CloudWatch through stdout
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    assert len(emf) == 1
    assert emf[0]["UsersRotated"] == [2.0]
    assert emf[0]["UsersSkipped"] == [2.0]  # carol's bad tag, erin's two keys
    assert emf[0]["AccountsScanned"] == [4.0]


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_bad_settings_fail_the_invocation_with_the_variable_named(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MAIL_FROM", "ikr@example.com")
    monkeypatch.setenv("ROTATE_AFTER_DAYS", "ninety")

    with pytest.raises(SettingsError, match="ROTATE_AFTER_DAYS"):
        rotator.handler(SCHEDULE_EVENT, LocalLambdaContext(function_name="ikr-rotator"))
