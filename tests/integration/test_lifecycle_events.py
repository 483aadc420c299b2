"""Lifecycle events on EventBridge (issue 18.5): one rotation and its old key's retirement, published
through the central account's default bus, reach a consumer's rule with an SQS target exactly once
each, in order, with the documented detail fields and no secret anywhere in them."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import boto3
import pytest

from central.aws import clients as aws
from central.aws.events import EventBus
from central.clock import fixed_clock
from central.domain.results import Outcome
from central.notify.event_bus import EventBridgeNotifier, build_event_notifier
from central.notify.fan_out import fan_out
from central.notify.notice import Event, Notice, NullNotifier
from central.retirement.destroy import DestroyContext, Destroyed, destroy
from central.rotation.run import run_rotation
from tests.integration.conftest import Harness, make_harness
from tests.integration.event_consumer import LATER, SPEC, consumer, received
from tests.integration.faults import Faults
from tests.integration.fixtures_extra import (
    shared_botocore_loader,  # noqa: F401 - autouse: shared service models (speed)
)

KEY_FIELDS = {"version", "event", "account", "user", "old_key_id", "occurred_at", "text"}


@pytest.fixture
def harness(central: boto3.Session) -> Harness:
    harness = make_harness(central, SPEC, DEACTIVATE_BEFORE_DELETE_DAYS=2)
    harness.services.clock = fixed_clock(LATER)
    harness.services.notifier = build_event_notifier(harness.services.settings, central, harness.services.clock)
    return harness


def test_one_rotation_and_its_retirement_publish_exactly_their_events_in_order(
    harness: Harness, central: boto3.Session
):
    url = consumer(central, {"source": ["ikr"]})
    prod = harness.world.account_ids["prod"]
    (old,) = [
        key["AccessKeyId"] for key in harness.world.iam("prod").list_access_keys(UserName="ann")["AccessKeyMetadata"]
    ]

    result = run_rotation(harness.services, only=[prod])
    (ann,) = result.accounts[0].users
    assert ann.outcome is Outcome.ROTATED
    rotation = received(central, url)

    # The retirement: made Inactive when its time comes, deleted DEACTIVATE_BEFORE_DELETE_DAYS later.
    outcomes = []
    for days in (4, 7):
        ctx = replace(DestroyContext.from_services(harness.services), now=LATER + timedelta(days=days))
        (item,) = harness.table.sweep(LATER + timedelta(days=days))
        outcomes.append(destroy(ctx, item).outcome)
    assert outcomes == [Destroyed.DEACTIVATED, Destroyed.DELETED]
    retirement = received(central, url)

    assert [event["detail-type"] for event in rotation] == ["IKR Rotation Started", "IKR New Key Delivered"]
    assert [event["detail-type"] for event in retirement] == ["IKR Old Key Deactivated", "IKR Old Key Deleted"]
    events = rotation + retirement
    assert {event["source"] for event in events} == {"ikr"}
    assert [event["detail"]["event"] for event in events] == [
        "rotation-started",
        "rotated",
        "old-key-deactivated",
        "old-key-retired",
    ]
    for event in events:
        detail = event["detail"]
        assert set(detail) >= KEY_FIELDS, event["detail-type"]
        assert (detail["account"], detail["user"], detail["old_key_id"]) == (prod, "ann", old)
    assert "new_key_id" not in rotation[0]["detail"]  # not made yet when the rotation starts
    assert {event["detail"]["new_key_id"] for event in events[1:]} == {ann.new_key_id}
    delivered = rotation[1]["detail"]
    assert delivered["at"] == (LATER + timedelta(days=3)).isoformat()  # when the old key goes
    assert delivered["occurred_at"] == LATER.isoformat()
    assert rotation[1]["time"] == f"{LATER:%Y-%m-%dT%H:%M:%S}Z"  # the envelope's time is ikr's clock too


def test_no_published_detail_holds_a_secret(harness: Harness, central: boto3.Session, monkeypatch: pytest.MonkeyPatch):
    faults = Faults(monkeypatch)  # records every AWS answer: the secret access keys CreateAccessKey gave
    url = consumer(central, {"source": ["ikr"]})
    run_rotation(harness.services)
    events = received(central, url)
    assert [event["detail"]["event"] for event in events] == ["rotation-started", "rotated"]
    secrets = secrets_of_the_run(harness, faults)
    assert len(secrets) >= 2  # the new key's secret and its Fernet key at least: the scan below can fail
    for event in events:
        text = json.dumps(event)
        assert not [secret for secret in secrets if secret in text], event["detail-type"]


def secrets_of_the_run(harness: Harness, faults: Faults) -> set[str]:
    """Every secret access key made, every SecureString the run wrote (pending pairs, Fernet keys)."""
    found = {response["AccessKey"]["SecretAccessKey"] for response in faults.responses("CreateAccessKey")}
    for call in faults.calls:
        if call.operation == "PutParameter" and call.params.get("Type") == "SecureString":
            found.add(call.params["Value"])
    return found


def test_a_consumer_pattern_on_detail_type_gets_only_those(harness: Harness, central: boto3.Session):
    url = consumer(central, {"source": ["ikr"], "detail-type": ["IKR New Key Delivered"]})
    run_rotation(harness.services)
    events = received(central, url)
    assert [(event["detail"]["account"], event["detail"]["user"]) for event in events] == [
        (harness.world.account_ids["prod"], "ann")
    ]


def test_a_missing_bus_is_one_log_line_and_the_rotation_goes_on(
    harness: Harness, central: boto3.Session, caplog: pytest.LogCaptureFixture
):
    harness.services.notifier = fan_out(
        NullNotifier(), EventBridgeNotifier(EventBus(aws.events(central), "no-such-bus"), harness.services.clock)
    )
    result = run_rotation(harness.services, only=[harness.world.account_ids["prod"]])
    assert result.accounts[0].users[0].outcome is Outcome.ROTATED
    refusals = [record for record in caplog.records if record.getMessage() == "event not published"]
    assert refusals
    assert "no-such-bus" in str(refusals[0].__dict__.get("reason"))


def test_event_bus_off_publishes_nothing(harness: Harness, central: boto3.Session):
    url = consumer(central, {"source": ["ikr"]})
    harness.services.notifier = build_event_notifier(
        harness.services.settings.model_copy(update={"EVENT_BUS": "off"}), central, harness.services.clock
    )
    assert isinstance(harness.services.notifier, NullNotifier)
    run_rotation(harness.services)
    assert received(central, url) == []


def test_an_entry_the_bus_refuses_is_a_failure_too(central: boto3.Session, caplog: pytest.LogCaptureFixture):
    class Refusing:
        def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
            return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "try later"}]}

    notifier = EventBridgeNotifier(EventBus(Refusing()), fixed_clock(LATER))
    assert notifier.notify(Notice(event=Event.ROTATED, text="ikr rotated ann")) is False
    (record,) = [record for record in caplog.records if record.getMessage() == "event not published"]
    assert "try later" in record.__dict__["reason"]
    assert "events:PutEvents" in record.__dict__["reason"]
