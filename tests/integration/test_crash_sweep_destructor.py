"""Crash after every AWS call of the destructor, enumerated from a recorded run, then let Lambda
retry the batch (at most twice): the old key is retired, the mailed new key is never touched,
nothing is left behind (no item, no encryption key) and no mail goes out twice. Both lifecycles: delete at once, and
deactivate first then delete days later; both with the last-use reminder on the path."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto.ses.models import ses_backends

from central.aws.expiry_item import ExpiryItem, epoch
from central.aws.stream_pump import LocalLambdaContext
from handlers import destructor
from tests.integration.conftest import TABLE
from tests.integration.destroy_scene import NOW, Scene, build_scene
from tests.integration.faults import Crash, Faults, Params
from tests.integration.fixtures_extra import (
    shared_botocore_loader,  # noqa: F401 - autouse: shared service models (speed)
)
from tests.support.emulator import reset_emulator

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:No application metrics to publish")]
DAYS = 2
CENTRAL = "123456789012"  # moto's default account: the central account's SES


def _world(monkeypatch: pytest.MonkeyPatch, deactivate_days: int) -> Scene:
    central = boto3.Session(region_name="us-east-1")
    scene = build_scene(central)
    central.client("ses").verify_email_identity(EmailAddress="ikr@example.com")
    monkeypatch.setenv("MAIL_FROM", "ikr@example.com")
    monkeypatch.setenv("IAM_KEY_ROTATOR_TABLE", TABLE)
    monkeypatch.setenv("DEACTIVATE_BEFORE_DELETE_DAYS", str(deactivate_days))
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "ikr-test")
    # The old key was used after the new one was mailed: the reminder is on the path.
    boto3.client(
        "sts", region_name="eu-west-1", aws_access_key_id=scene.old, aws_secret_access_key="x" * 40
    ).get_caller_identity()
    scene.item = scene.item.model_copy(update={"started_at": epoch(datetime.now(UTC) - timedelta(hours=1))})
    return scene


def _event(item: ExpiryItem) -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventID": "event-1",
                "eventName": "REMOVE",
                "eventSource": "aws:dynamodb",
                "awsRegion": "us-east-1",
                "dynamodb": {
                    "Keys": {"account_id": {"S": item.account_id}, "item_key": {"S": item.item_key}},
                    "OldImage": item.to_item(),
                    "SequenceNumber": "1",
                    "StreamViewType": "NEW_AND_OLD_IMAGES",
                },
                "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
            }
        ]
    }


HANDLER = "handler"  # the tag of calls the destructor makes; the test's own look-arounds are no crash points


def _invoke(monkeypatch: pytest.MonkeyPatch, faults: Faults, item: ExpiryItem, now: datetime) -> None:
    """One delivery of the REMOVE record; Lambda retries the batch if the process died (twice at most)."""
    monkeypatch.setenv("IKR_NOW", now.isoformat())
    for attempt in range(3):
        faults.tag = HANDLER
        try:
            destructor.handler(_event(item), LocalLambdaContext())
        except Crash:
            if attempt == 2:
                raise
            continue
        finally:
            faults.tag = ""
        return


def _lifecycle(monkeypatch: pytest.MonkeyPatch, faults: Faults, scene: Scene, deactivate_days: int) -> None:
    """TTL removes the item; the destructor runs; with deactivation, TTL removes it again days later."""
    _invoke(monkeypatch, faults, scene.item, NOW)
    if deactivate_days:
        for back in scene.table_items():
            scene.table.remove(back)  # TTL at the new expires_at
            _invoke(monkeypatch, faults, back, NOW + timedelta(days=deactivate_days, minutes=1))


def _nth(faults: Faults, n: int) -> Callable[[Params], bool]:
    """True for the n-th matching call made inside the handler."""
    count = iter(range(1, 1_000_000))
    return lambda _params: faults.tag == HANDLER and next(count) == n


def _problem(scene: Scene) -> str | None:
    keys = {
        meta["AccessKeyId"]: meta["Status"] for meta in scene.iam.list_access_keys(UserName="dave")["AccessKeyMetadata"]
    }
    if keys != {scene.new: "Active"}:
        return f"keys {keys}"
    if scene.table_items():
        return f"table holds {scene.table_items()}"
    if scene.parameter_exists():
        return "the user's encryption key is still in SSM"
    subjects = Counter(message.subject for message in ses_backends[CENTRAL]["us-east-1"].sent_messages)
    twice = [subject for subject, count in subjects.items() if count > 1]
    if twice:
        return f"mailed more than once: {twice}"
    return None


@pytest.mark.parametrize("deactivate_days", [0, DAYS], ids=["delete-at-once", "deactivate-first"])
def test_a_crash_after_any_destructor_call_is_survived(monkeypatch: pytest.MonkeyPatch, deactivate_days: int):
    reset_emulator()
    scene = _world(monkeypatch, deactivate_days)
    faults = Faults(monkeypatch)
    _lifecycle(monkeypatch, faults, scene, deactivate_days)
    faults.clear()
    assert _problem(scene) is None
    seen: Counter[tuple[str, str]] = Counter()
    points = []
    for call in (call for call in faults.calls if call.tag == HANDLER):
        seen[call.service, call.operation] += 1
        points.append((call.service, call.operation, seen[call.service, call.operation]))
    expected = {"AssumeRole", "ListAccessKeys", "GetAccessKeyLastUsed", "SendEmail", "DeleteAccessKey"}
    assert expected <= {operation for _, operation, _ in points}
    if deactivate_days:
        assert {"UpdateAccessKey", "PutItem"} <= {operation for _, operation, _ in points}

    failures: dict[str, str] = {}
    for service, operation, occurrence in points:
        reset_emulator()
        scene = _world(monkeypatch, deactivate_days)
        faults = Faults(monkeypatch)
        rule = faults.crash_after(operation, service=service, when=_nth(faults, occurrence))
        try:
            _lifecycle(monkeypatch, faults, scene, deactivate_days)
        except Crash as exc:
            failures[f"{service}:{operation}#{occurrence}"] = f"still crashing after two retries: {exc}"
            continue
        finally:
            faults.clear()
        problem = _problem(scene)
        if problem is not None or rule.hits == 0:
            failures[f"{service}:{operation}#{occurrence}"] = problem or "did not crash"
    print(f"destructor crash points tried: {len(points)}, survived: {len(points) - len(failures)}: {points}")
    assert failures == {}
