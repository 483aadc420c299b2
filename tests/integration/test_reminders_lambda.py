"""Reminders through the deployed path: the account worker Lambda handler, its wiring and SES (moto in
process), with the account's message delivered twice (SQS delivers at least once)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto.ses.models import ses_backends

from central.aws.expiry_table import ExpiryTable
from central.aws.stream_pump import LocalLambdaContext
from central.domain.model import Account
from central.domain.scope import resolve
from central.rotation.account_queue import AccountMessage
from central.rotation.run import AccountWork
from handlers import account_worker
from tests.integration.conftest import TABLE, default_spec
from tests.support.world import build_world, session_in

IN_WINDOW = datetime.now(UTC) + timedelta(days=56)  # the Workloads OU rotates after 60 days


def _subjects() -> list[str]:
    return [message.subject for message in ses_backends["123456789012"]["us-east-1"].sent_messages]


def _message(body: str, message_id: str) -> dict[str, Any]:
    return {"messageId": message_id, "receiptHandle": message_id, "body": body, "attributes": {}}


@pytest.fixture
def worker_env(central: boto3.Session, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    world = build_world(central, default_spec())
    ExpiryTable(central.client("dynamodb"), TABLE).create()
    central.client("ses").verify_email_identity(EmailAddress="ikr@example.com")
    for name, value in {
        "MAIL_FROM": "ikr@example.com",
        "IAM_KEY_ROTATOR_TABLE": TABLE,
        "IKR_NOW": IN_WINDOW.isoformat(),
        "POWERTOOLS_METRICS_NAMESPACE": "ikr-test",
    }.items():
        monkeypatch.setenv(name, value)
    return world.account_ids


def test_the_account_worker_reminds_once_though_the_message_comes_twice(worker_env: dict[str, str]):
    scope = resolve(Account(id=worker_env["dev"], name="dev"), 60, 3, standalone=True)
    body = AccountMessage.for_work(AccountWork(scope=scope, now=IN_WINDOW, run_id="remind-run")).body()
    context = LocalLambdaContext(function_name="ikr-account-worker")

    first = account_worker.handler({"Records": [_message(body, "m-1")]}, context)
    again = account_worker.handler({"Records": [_message(body, "m-1")]}, context)

    assert first == again == {"batchItemFailures": []}
    reminders = [subject for subject in _subjects() if subject.startswith("Access Key Rotation Ahead")]
    assert len(reminders) == 1
    assert " of dave in dev (" in reminders[0]


def test_the_account_worker_with_reminders_off_sends_none(worker_env: dict[str, str], monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("REMIND_BEFORE_DAYS", "0")
    scope = resolve(Account(id=worker_env["dev"], name="dev"), 60, 3, standalone=True)
    body = AccountMessage.for_work(AccountWork(scope=scope, now=IN_WINDOW, run_id="quiet-run")).body()

    response = account_worker.handler(
        {"Records": [_message(body, "m-2")]}, LocalLambdaContext(function_name="ikr-account-worker")
    )

    assert response == {"batchItemFailures": []}
    assert _subjects() == []


def test_the_account_worker_leaves_an_exempt_user_alone(
    central: boto3.Session, worker_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
):
    """Exemptions through the deployed path: dave's key is long due, but he is exempt: no new key, no mail."""
    due = datetime.now(UTC) + timedelta(days=90)
    monkeypatch.setenv("IKR_NOW", due.isoformat())
    iam = session_in(central, worker_env["dev"]).client("iam")
    until = f"{due + timedelta(days=30):%Y-%m-%d}"
    iam.tag_user(
        UserName="dave",
        Tags=[{"Key": "IKR:EXEMPT_UNTIL", "Value": until}, {"Key": "IKR:EXEMPT_REASON", "Value": "vendor freeze"}],
    )
    before = [key["AccessKeyId"] for key in iam.list_access_keys(UserName="dave")["AccessKeyMetadata"]]
    scope = resolve(Account(id=worker_env["dev"], name="dev"), 60, 3, standalone=True)
    body = AccountMessage.for_work(AccountWork(scope=scope, now=due, run_id="exempt-run")).body()

    response = account_worker.handler(
        {"Records": [_message(body, "m-3")]}, LocalLambdaContext(function_name="ikr-account-worker")
    )

    assert response == {"batchItemFailures": []}
    assert [key["AccessKeyId"] for key in iam.list_access_keys(UserName="dave")["AccessKeyMetadata"]] == before
    assert _subjects() == []
