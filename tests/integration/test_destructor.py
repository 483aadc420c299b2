"""The destructor: the use case (`central.retirement.destroy.destroy`) and the Lambda handler fed a
hand-built DynamoDB Streams event. An old key goes only when its time has passed and the user has
another key; every failure puts the item back for a retry."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from central.aws.expiry_item import ExpiryItem, State, epoch
from central.aws.stream_pump import LocalLambdaContext
from central.retirement.destroy import Destroyed, destroy
from handlers import destructor
from tests.integration.conftest import TABLE
from tests.integration.destroy_scene import (
    MEMBER,
    NOW,
    RETRY,
    Scene,
)
from tests.integration.faults import Faults
from tests.integration.fixtures_extra import (
    shared_botocore_loader,  # noqa: F401 - autouse: shared service models (speed)
)

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


# -- the use case ------------------------------------------------------------------------------------
def test_an_expired_item_deletes_the_old_key_and_the_users_encryption_key(scene: Scene):
    result = destroy(scene.context(), scene.item)

    assert result.outcome is Destroyed.DELETED
    assert scene.item.old_key_id in result.detail
    assert scene.access_keys() == {scene.new}
    assert not scene.parameter_exists()
    assert scene.table_items() == []


def test_an_old_key_already_gone_counts_as_done_without_a_retry(scene: Scene):
    scene.iam.delete_access_key(UserName="dave", AccessKeyId=scene.old)

    result = destroy(scene.context(), scene.item)

    assert result.outcome is Destroyed.ALREADY_GONE
    assert scene.access_keys() == {scene.new}
    assert scene.table_items() == []  # not put back


def test_a_user_deleted_meanwhile_counts_as_done(scene: Scene):
    iam = scene.iam
    for key in scene.access_keys():
        iam.delete_access_key(UserName="dave", AccessKeyId=key)
    iam.delete_user(UserName="dave")

    result = destroy(scene.context(), scene.item)

    assert result.outcome is Destroyed.ALREADY_GONE
    assert scene.table_items() == []


def test_access_denied_on_delete_puts_the_item_back_with_attempts_and_a_later_expiry(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
):
    faults = Faults(monkeypatch)
    faults.refuse("DeleteAccessKey", code="AccessDenied", message="not authorized to perform iam:DeleteAccessKey")
    item = scene.item.model_copy(update={"attempts": 2, "swept_at": scene.item.expires_at})

    result = destroy(scene.context(), item)
    faults.clear()

    assert result.outcome is Destroyed.RETRY
    assert "AccessDenied" in result.detail
    assert scene.access_keys() == {scene.old, scene.new}
    assert scene.parameter_exists()
    (back,) = scene.table_items()
    assert back.state is State.SCHEDULED
    assert back.attempts == 3
    assert back.expires_at == epoch(NOW + RETRY)
    assert back.swept_at is None  # a later sweep must judge it afresh
    assert back.last_error is not None
    assert "AccessDenied" in back.last_error
    assert (back.old_key_id, back.new_key_id) == (scene.old, scene.new)


def test_no_way_into_the_account_puts_the_item_back_for_a_retry(scene: Scene, monkeypatch: pytest.MonkeyPatch):
    faults = Faults(monkeypatch)
    faults.refuse("AssumeRole", code="AccessDenied", when=lambda params: MEMBER in params["RoleArn"])

    result = destroy(scene.context(), scene.item)
    faults.clear()

    assert result.outcome is Destroyed.RETRY
    assert MEMBER in result.detail
    (back,) = scene.table_items()
    assert back.attempts == 1
    assert back.last_error is not None
    assert "AccessDenied" in back.last_error
    assert scene.access_keys() == {scene.old, scene.new}


def test_an_item_removed_before_its_time_is_put_back_and_the_key_kept(scene: Scene):
    early = scene.item.model_copy(update={"expires_at": epoch(NOW + timedelta(days=2))})

    result = destroy(scene.context(), early)

    assert result.outcome is Destroyed.TOO_EARLY
    assert scene.access_keys() == {scene.old, scene.new}
    assert scene.parameter_exists()
    (back,) = scene.table_items()
    assert back.handling is not None  # the answer to this record: a second delivery finds it
    assert back.handling.outcome == Destroyed.TOO_EARLY.value
    assert back.model_copy(update={"handling": None}) == early


def test_ttl_removal_is_trusted_even_when_the_destructor_clock_is_earlier(scene: Scene):
    early = scene.item.model_copy(update={"expires_at": epoch(NOW + timedelta(hours=1))})

    result = destroy(scene.context(), early, removed_by_ttl=True)

    assert result.outcome is Destroyed.DELETED
    assert scene.access_keys() == {scene.new}


def test_an_item_swept_by_a_run_with_a_later_clock_counts_as_expired(scene: Scene):
    expires = epoch(NOW + timedelta(days=2))
    swept = scene.item.model_copy(update={"expires_at": expires, "swept_at": expires + 60})

    result = destroy(scene.context(), swept)

    assert result.outcome is Destroyed.DELETED
    assert scene.access_keys() == {scene.new}


def test_the_old_key_is_kept_when_it_is_the_users_only_key(scene: Scene):
    scene.iam.delete_access_key(UserName="dave", AccessKeyId=scene.new)

    result = destroy(scene.context(), scene.item)

    assert result.outcome is Destroyed.KEPT_ONLY_KEY
    assert scene.access_keys() == {scene.old}


def test_the_old_key_is_kept_when_the_new_key_was_deactivated(scene: Scene):
    scene.iam.update_access_key(UserName="dave", AccessKeyId=scene.new, Status="Inactive")

    result = destroy(scene.context(), scene.item)

    assert result.outcome is Destroyed.KEPT_ONLY_KEY
    assert "only active key" in result.detail
    assert scene.access_keys() == {scene.old, scene.new}


def test_the_encryption_key_stays_while_another_item_of_the_user_waits(scene: Scene):
    other = scene.item.model_copy(update={"old_key_id": "AKIAOTHERPENDINGKEY0", "expires_at": epoch(NOW + RETRY)})
    scene.table.put(other)

    result = destroy(scene.context(), scene.item)

    assert result.outcome is Destroyed.DELETED
    assert scene.parameter_exists()


@pytest.mark.parametrize("state", [State.STARTED, State.KEY_CREATED])
def test_a_removed_journal_entry_is_ignored_without_touching_aws(
    scene: Scene, monkeypatch: pytest.MonkeyPatch, state: State
):
    faults = Faults(monkeypatch)
    entry = scene.item.model_copy(update={"state": state, "expires_at": None})

    result = destroy(scene.context(), entry)

    assert result.outcome is Destroyed.IGNORED
    assert faults.calls == []
    assert scene.access_keys() == {scene.old, scene.new}


# -- the Lambda handler --------------------------------------------------------------------------------
@pytest.fixture
def handler_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAIL_FROM", "ikr@example.com")
    monkeypatch.setenv("IAM_KEY_ROTATOR_TABLE", TABLE)
    monkeypatch.setenv("IKR_NOW", NOW.isoformat())
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "ikr-test")


_sequence = iter(range(100, 10_000))


def record(
    event_name: str, item: ExpiryItem | dict[str, Any] | None, by_ttl: bool = False, new: ExpiryItem | None = None
) -> dict[str, Any]:
    image = item.to_item() if isinstance(item, ExpiryItem) else item
    keys = {
        "account_id": (image or {}).get("account_id", {"S": "?"}),
        "item_key": (image or {}).get("item_key", {"S": "?"}),
    }
    dynamodb: dict[str, Any] = {
        "ApproximateCreationDateTime": epoch(NOW),
        "Keys": keys,
        "SequenceNumber": str(next(_sequence)),
        "SizeBytes": 300,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if image is not None:
        dynamodb["OldImage"] = image
    if new is not None:
        dynamodb["NewImage"] = new.to_item()
    shaped: dict[str, Any] = {
        "eventID": f"event-{dynamodb['SequenceNumber']}",
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": dynamodb,
        "eventSourceARN": f"arn:aws:dynamodb:us-east-1:123456789012:table/{TABLE}/stream/2025-01-01T00:00:00.000",
    }
    if by_ttl:
        shaped["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    return shaped


def invoke(*records: dict[str, Any]) -> list[str]:
    """Call the handler; the sequence numbers it reported as failed."""
    response = destructor.handler({"Records": list(records)}, LocalLambdaContext())
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


@pytest.mark.usefixtures("handler_env")
def test_handler_deletes_the_old_key_of_an_expired_remove_record(scene: Scene):
    assert invoke(record("REMOVE", scene.item)) == []

    assert scene.access_keys() == {scene.new}
    assert not scene.parameter_exists()


@pytest.mark.usefixtures("handler_env")
def test_handler_trusts_a_ttl_removal(scene: Scene):
    later = scene.item.model_copy(update={"expires_at": epoch(NOW + timedelta(hours=3))})

    assert invoke(record("REMOVE", later, by_ttl=True)) == []

    assert scene.access_keys() == {scene.new}


@pytest.mark.usefixtures("handler_env")
def test_handler_ignores_insert_and_modify_records(scene: Scene, monkeypatch: pytest.MonkeyPatch):
    faults = Faults(monkeypatch)
    moved = scene.item.model_copy(update={"attempts": 1})

    assert invoke(record("INSERT", None, new=scene.item), record("MODIFY", scene.item, new=moved)) == []

    assert not [op for op in faults.operations() if op in ("DeleteAccessKey", "ListAccessKeys", "AssumeRole")]
    assert scene.access_keys() == {scene.old, scene.new}


@pytest.mark.usefixtures("handler_env")
def test_handler_ignores_a_removed_journal_entry(scene: Scene):
    entry = scene.item.model_copy(update={"state": State.KEY_CREATED, "expires_at": None})

    assert invoke(record("REMOVE", entry)) == []

    assert scene.access_keys() == {scene.old, scene.new}
    assert scene.table_items() == []


@pytest.mark.usefixtures("handler_env")
@pytest.mark.parametrize(
    "damage",
    [
        lambda image: image.pop("old_key_id"),
        lambda image: image.update(state={"S": "exploded"}),
        lambda image: image.update(expires_at={"S": "soon"}),
    ],
    ids=["no old key id", "unknown state", "expires_at not a number"],
)
def test_handler_logs_a_malformed_old_image_and_does_not_act(scene: Scene, caplog: pytest.LogCaptureFixture, damage):
    image = scene.item.to_item()
    damage(image)

    assert invoke(record("REMOVE", image)) == []

    assert scene.access_keys() == {scene.old, scene.new}
    assert scene.table_items() == []
    (logged,) = [r for r in caplog.records if r.getMessage() == "stream record not acted on"]
    assert logged.levelname == "ERROR"
    assert scene.account_id in logged.__dict__["reason"]


@pytest.mark.usefixtures("handler_env")
@pytest.mark.parametrize("event", [{}, {"Records": "nope"}, {"detail-type": "Scheduled Event"}])
def test_handler_does_nothing_with_an_event_that_is_not_a_stream_batch(
    scene: Scene, monkeypatch: pytest.MonkeyPatch, event
):
    faults = Faults(monkeypatch)

    response = destructor.handler(event, LocalLambdaContext())

    assert response == {"batchItemFailures": []}
    assert faults.calls == []
    assert scene.access_keys() == {scene.old, scene.new}


@pytest.mark.usefixtures("handler_env")
def test_handler_retry_puts_the_item_back_and_reports_no_failure(scene: Scene, monkeypatch: pytest.MonkeyPatch):
    faults = Faults(monkeypatch)
    faults.refuse("DeleteAccessKey", code="AccessDenied")

    assert invoke(record("REMOVE", scene.item)) == []
    faults.clear()

    (back,) = scene.table_items()
    assert (back.attempts, back.expires_at) == (1, epoch(NOW + RETRY))
    assert scene.access_keys() == {scene.old, scene.new}


@pytest.mark.usefixtures("handler_env")
def test_handler_reports_a_record_whose_put_back_fails(scene: Scene, monkeypatch: pytest.MonkeyPatch):
    done = ExpiryItem(
        account_id=scene.account_id,
        user_name="ghost",
        old_key_id="AKIAGHOSTKEY00000000",
        state=State.SCHEDULED,
        started_at=scene.item.started_at,
        expires_at=scene.item.expires_at,
    )
    too_early = scene.item.model_copy(update={"old_key_id": "AKIAEARLYKEY00000000", "expires_at": epoch(NOW + RETRY)})
    failing, early, fine = record("REMOVE", scene.item), record("REMOVE", too_early), record("REMOVE", done)
    faults = Faults(monkeypatch)
    faults.refuse("DeleteAccessKey", code="AccessDenied")
    faults.refuse(
        "PutItem",
        code="AccessDenied",
        message="not authorized to perform dynamodb:PutItem",
        when=lambda params: params["Item"]["user_name"] == {"S": "dave"},  # the ghost's tombstone is written
    )

    failed = invoke(failing, fine, early)
    faults.clear()

    assert failed == [failing["dynamodb"]["SequenceNumber"], early["dynamodb"]["SequenceNumber"]]
    assert scene.access_keys() == {scene.old, scene.new}
    assert scene.table_items() == []


@pytest.mark.usefixtures("handler_env")
def test_handler_knows_a_redelivered_record_without_an_event_id_by_its_old_image(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
):
    anonymous = record("REMOVE", scene.item)
    del anonymous["eventID"]
    assert invoke(anonymous) == []
    faults = Faults(monkeypatch)

    assert invoke(anonymous) == []

    # Decided again (reads only); its answer's conditional write lost to the first one, which it then
    # read: its answer to this very record, notices claimed, all done. Nothing changed.
    # (STS: the invocation's session into the member account, not this record's work.)
    assert [call.operation for call in faults.calls if call.service != "sts"] == [
        "ListAccessKeys",
        "PutItem",
        "GetItem",
    ]
    assert faults.responses("PutItem") == []  # refused: ConditionalCheckFailed
    assert scene.access_keys() == {scene.new}
    assert scene.table_items() == []
