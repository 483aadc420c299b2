"""The rotator Lambda's `{"ikr": "restore", ...}` event (issue 18.4): the documented `aws lambda
invoke` payload restores through the same use case as `ikr restore`; a refusal is an answer, not a
failed invocation (Lambda would retry an async invocation that raised, and it would be refused again)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import boto3
import pytest

from central.aws.expiry_table import ExpiryTable
from central.aws.stream_pump import LocalLambdaContext
from central.retirement.destroy import DestroyContext, Destroyed, destroy
from central.settings import load_settings
from central.wiring import build_services, forget_warm_services
from handlers import rotator
from tests.integration.conftest import TABLE
from tests.integration.fixtures_extra import LATER
from tests.support.world import AccountSpec, OrgSpec, UserSpec, build_world

SPEC = OrgSpec(
    ous={"Work": {"IKR:ENABLED": "true"}},
    accounts=[AccountSpec("prod", "Work", {}, [UserSpec("ann", {"IKR:EMAIL": "ann@example.com"})])],
)


@pytest.fixture(autouse=True)
def fresh_services() -> None:
    forget_warm_services()


def test_the_restore_event_restores_and_answers_plain_json(central: boto3.Session, monkeypatch: pytest.MonkeyPatch):
    world = build_world(central, SPEC)
    ExpiryTable(central.client("dynamodb"), TABLE).create()
    central.client("ses").verify_email_identity(EmailAddress="ikr@example.com")
    for name, value in {
        "MAIL_FROM": "ikr@example.com",
        "IAM_KEY_ROTATOR_TABLE": TABLE,
        "IKR_NOW": LATER.isoformat(),
        "DEACTIVATE_BEFORE_DELETE_DAYS": "2",
    }.items():
        monkeypatch.setenv(name, value)
    context = LocalLambdaContext(function_name="ikr-rotator", aws_request_id="req-1")
    rotator.handler({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}, context)
    services = build_services(load_settings())
    later = LATER + timedelta(days=DAYS_TO_DEACTIVATION)
    ctx = replace(DestroyContext.from_services(services), now=later)
    assert [destroy(ctx, item).outcome for item in services.table.sweep(later)] == [Destroyed.DEACTIVATED]
    prod = world.account_ids["prod"]
    event = {"ikr": "restore", "account": prod, "user": "ann", "days": 7, "reason": "rollback", "by": "ops@example.com"}

    answer = rotator.handler(event, context)

    assert answer["restored"] is True
    assert answer["activated"] is True
    (item,) = services.table.for_user(prod, "ann")
    assert item.restored is not None
    assert (item.restored.by, item.restored.reason, item.restored.days) == ("ops@example.com", "rollback", 7)
    assert answer["old_key_id"] == item.old_key_id
    keys = world.iam("prod").list_access_keys(UserName="ann")["AccessKeyMetadata"]
    assert {key["Status"] for key in keys} == {"Active"}

    again = rotator.handler(event, context)  # Lambda's retry of an async invocation
    assert again["postponed"] is False
    assert again["until"] == answer["until"]

    refused = rotator.handler({"ikr": "restore", "account": prod, "user": "nobody"}, context)
    assert refused == {
        "restored": False,
        "refused": f"account {prod} has no IAM user nobody (or is not an account ikr reaches)",
    }
    bad = rotator.handler({"ikr": "restore", "account": "not-an-id", "user": "ann"}, context)
    assert bad["restored"] is False
    assert "restore event: account 'not-an-id'" in bad["refused"]
    without_by = rotator.handler({"ikr": "restore", "account": prod, "user": "ann", "days": 9}, context)
    assert without_by["restored"] is True
    (item,) = services.table.for_user(prod, "ann")
    assert item.restored is not None
    assert item.restored.by == "lambda:ikr-rotator/req-1"


DAYS_TO_DEACTIVATION = 6  # past DELETE_AFTER_DAYS (5 by default)
