"""The old key's retirement beyond a plain delete: bounded attempts with one admin notice, the
deactivate-before-delete step, and the reminder when the old key was still used after the mail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest

from central.aws.expiry_item import State, epoch
from central.notify.admin import AdminNotifier
from central.notify.mailers.base import Mail
from central.retirement.destroy import Destroyed, destroy
from tests.integration.conftest import RecordingMailer
from tests.integration.destroy_scene import NOW, Scene
from tests.integration.faults import Faults
from tests.integration.fixtures_extra import (
    shared_botocore_loader,  # noqa: F401 - autouse: shared service models (speed)
)

ADMIN = "admin@example.com"


# -- bounded destruction -----------------------------------------------------------------------------
def test_the_last_allowed_attempt_fails_the_item_keeps_the_key_and_tells_the_admin_once(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
):
    mailer = RecordingMailer()
    faults = Faults(monkeypatch)
    faults.refuse("DeleteAccessKey", code="AccessDenied", message="explicit deny in a service control policy")
    ctx = scene.context(max_attempts=3, admin=AdminNotifier(mailer, ADMIN), mailer=mailer)

    outcomes = []
    item = scene.item
    for attempt in range(3):
        if attempt:
            scene.table.remove(item)  # TTL removes the put-back; the stream hands it over
        outcomes.append(destroy(ctx, item, removed_by_ttl=True).outcome)
        (item,) = scene.table_items()
    faults.clear()

    assert outcomes == [Destroyed.RETRY, Destroyed.RETRY, Destroyed.GAVE_UP]
    assert item.state is State.FAILED
    assert item.attempts == 3
    assert item.expires_at is None  # no TTL: nothing removes it, nothing retries it
    assert item.failed_at == epoch(NOW)
    assert item.last_error is not None
    assert "service control policy" in item.last_error
    assert scene.access_keys() == {scene.old, scene.new}  # nothing lost
    assert scene.parameter_exists()
    (notice,) = mailer.sent
    assert notice.to == ADMIN
    assert scene.old in notice.text
    assert MEMBER_ID(scene) in notice.text
    assert "3 attempts" in notice.text


def MEMBER_ID(scene: Scene) -> str:
    return scene.account_id


def test_a_failed_item_is_neither_swept_nor_acted_on_when_removed(scene: Scene, monkeypatch: pytest.MonkeyPatch):
    failed = scene.item.model_copy(update={"state": State.FAILED, "expires_at": None, "attempts": 10})
    scene.table.put(failed)

    assert scene.table.sweep(NOW + timedelta(days=365)) == []
    faults = Faults(monkeypatch)
    result = destroy(scene.context(), failed)  # a person deleted the item by hand

    assert result.outcome is Destroyed.IGNORED
    assert faults.calls == []
    assert scene.access_keys() == {scene.old, scene.new}


def test_without_admin_email_giving_up_is_still_logged(
    scene: Scene, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    mailer = RecordingMailer()
    Faults(monkeypatch).refuse("DeleteAccessKey", code="AccessDenied")
    item = scene.item.model_copy(update={"attempts": 9})

    result = destroy(scene.context(max_attempts=10, admin=AdminNotifier(mailer, None)), item)

    assert result.outcome is Destroyed.GAVE_UP
    assert mailer.sent == []
    assert "admin notice: destruction given up" in [r.getMessage() for r in caplog.records]


def test_a_key_already_gone_on_the_last_attempt_counts_as_done(scene: Scene):
    scene.iam.delete_access_key(UserName="dave", AccessKeyId=scene.old)
    item = scene.item.model_copy(update={"attempts": 9})

    assert destroy(scene.context(max_attempts=10), item).outcome is Destroyed.ALREADY_GONE
    assert scene.table_items() == []


# -- deactivate before delete ------------------------------------------------------------------------
def test_the_old_key_is_made_inactive_first_and_deleted_days_later(scene: Scene):
    first = destroy(scene.context(deactivate_days=3), scene.item)

    assert first.outcome is Destroyed.DEACTIVATED
    assert scene.status(scene.old) == "Inactive"
    assert scene.status(scene.new) == "Active"
    assert scene.parameter_exists()  # the user may still need to decrypt the mail
    (back,) = scene.table_items()
    assert back.state is State.SCHEDULED
    assert back.deactivated_at == epoch(NOW)
    assert back.expires_at == epoch(NOW + timedelta(days=3))

    too_early = destroy(scene.context(now=NOW + timedelta(days=1), deactivate_days=3), scene.removed(back))
    assert too_early.outcome is Destroyed.TOO_EARLY
    assert scene.access_keys() == {scene.old, scene.new}

    later = NOW + timedelta(days=3, minutes=1)
    (back,) = scene.table_items()
    scene.table.remove(back)  # TTL or the sweep removes it at its time
    second = destroy(scene.context(now=later, deactivate_days=3), back)

    assert second.outcome is Destroyed.DELETED
    assert scene.access_keys() == {scene.new}
    assert scene.table_items() == []
    assert not scene.parameter_exists()


def test_an_old_key_someone_already_deactivated_is_deleted_at_once(scene: Scene):
    scene.iam.update_access_key(UserName="dave", AccessKeyId=scene.old, Status="Inactive")

    assert destroy(scene.context(deactivate_days=3), scene.item).outcome is Destroyed.DELETED
    assert scene.access_keys() == {scene.new}


def test_deactivation_is_recorded_before_the_key_changes(scene: Scene, monkeypatch: pytest.MonkeyPatch):
    faults = Faults(monkeypatch)
    faults.refuse("UpdateAccessKey", code="AccessDenied")

    result = destroy(scene.context(deactivate_days=3), scene.item)
    faults.clear()

    assert result.outcome is Destroyed.RETRY
    assert faults.operations("dynamodb").count("PutItem") == 2  # the deactivation record, then the retry
    (back,) = scene.table_items()
    assert back.deactivated_at is None  # the retry is judged afresh
    assert back.attempts == 1
    assert scene.status(scene.old) == "Active"


def test_a_deactivated_old_key_is_kept_when_the_new_key_is_gone(scene: Scene):
    deactivated = destroy(scene.context(deactivate_days=2), scene.item)
    assert deactivated.outcome is Destroyed.DEACTIVATED
    (back,) = scene.table_items()
    scene.table.remove(back)
    scene.iam.delete_access_key(UserName="dave", AccessKeyId=scene.new)

    result = destroy(scene.context(now=NOW + timedelta(days=3), deactivate_days=2), back)

    assert result.outcome is Destroyed.KEPT_ONLY_KEY
    assert scene.access_keys() == {scene.old}


# -- the last-use reminder ---------------------------------------------------------------------------
def use_key(central: boto3.Session, key_id: str) -> None:
    """A request signed with the key: moto records its last use (service sts, this region)."""
    boto3.client(
        "sts", region_name="eu-west-1", aws_access_key_id=key_id, aws_secret_access_key="x" * 40
    ).get_caller_identity()


def mailed_an_hour_ago(scene: Scene):
    return scene.item.model_copy(update={"started_at": epoch(datetime.now(UTC) - timedelta(hours=1))})


@pytest.mark.parametrize("days", [0, 2])
def test_an_old_key_used_after_the_mail_earns_the_user_one_reminder(central: boto3.Session, scene: Scene, days: int):
    mailer = RecordingMailer()
    use_key(central, scene.old)

    result = destroy(scene.context(deactivate_days=days, mailer=mailer), mailed_an_hour_ago(scene))

    assert result.reminded is True
    (reminder,) = reminders(mailer)
    assert reminder.to == "dave@example.com"
    assert scene.old in reminder.text
    assert "sts" in reminder.text
    assert "eu-west-1" in reminder.text
    assert ("made inactive" if days else "deleted") in reminder.text
    if days:  # the second pass does not remind again
        (back,) = scene.table_items()
        assert back.reminded_at is not None
        scene.table.remove(back)
        again = destroy(scene.context(now=NOW + timedelta(days=days + 1), deactivate_days=days, mailer=mailer), back)
        assert again.outcome is Destroyed.DELETED
        assert len(reminders(mailer)) == 1
    assert len(deletion_mails(mailer)) == 1  # when the key is deleted, not when made inactive


def test_an_old_key_unused_since_the_mail_earns_no_reminder(central: boto3.Session, scene: Scene):
    mailer = RecordingMailer()
    use_key(central, scene.old)
    mailed_after_use = scene.item.model_copy(update={"started_at": epoch(datetime.now(UTC) + timedelta(minutes=5))})

    result = destroy(scene.context(mailer=mailer), mailed_after_use)

    assert result.outcome is Destroyed.DELETED
    assert result.reminded is False
    assert reminders(mailer) == []
    (deleted,) = deletion_mails(mailer)  # the original's mail once the key is gone
    assert deleted.to == "dave@example.com"
    assert scene.old in deleted.subject


def deletion_mails(mailer: RecordingMailer) -> list[Mail]:
    return [mail for mail in mailer.sent if mail.subject.startswith("Old Access Key Pair Deleted")]


def reminders(mailer: RecordingMailer) -> list[Mail]:
    return [mail for mail in mailer.sent if mail not in deletion_mails(mailer)]


def test_a_reminder_that_cannot_be_mailed_does_not_hold_back_the_deletion(central: boto3.Session, scene: Scene):
    mailer = RecordingMailer()
    mailer.down = True
    use_key(central, scene.old)

    result = destroy(scene.context(mailer=mailer), mailed_an_hour_ago(scene))

    assert result.outcome is Destroyed.DELETED
    assert result.reminded is False
    assert scene.access_keys() == {scene.new}


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_the_handler_wires_the_settings_and_mails_the_admin_through_the_configured_mailer(
    central: boto3.Session, scene: Scene, monkeypatch: pytest.MonkeyPatch
):
    from moto.ses.models import ses_backends

    from central.aws.stream_pump import LocalLambdaContext
    from handlers import destructor
    from tests.integration.conftest import TABLE

    central.client("ses").verify_email_identity(EmailAddress="ikr@example.com")
    for name, value in {
        "MAIL_FROM": "ikr@example.com",
        "IAM_KEY_ROTATOR_TABLE": TABLE,
        "IKR_NOW": NOW.isoformat(),
        "IKR_MAX_DESTROY_ATTEMPTS": "1",
        "ADMIN_EMAIL": ADMIN,
    }.items():
        monkeypatch.setenv(name, value)
    Faults(monkeypatch).refuse("DeleteAccessKey", code="AccessDenied")
    record = {
        "eventID": "1",
        "eventName": "REMOVE",
        "eventSource": "aws:dynamodb",
        "dynamodb": {"OldImage": scene.item.to_item(), "SequenceNumber": "1", "Keys": {}},
        "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
    }

    response = destructor.handler({"Records": [record]}, LocalLambdaContext())

    assert response == {"batchItemFailures": []}
    (failed,) = scene.table_items()
    assert failed.state is State.FAILED
    me = central.client("sts").get_caller_identity()["Account"]
    sent = ses_backends[me]["us-east-1"].sent_messages
    assert [message.destinations["ToAddresses"] for message in sent] == [[ADMIN]]
