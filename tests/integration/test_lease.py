"""The rotation lease through the real entry points: a live lease is left alone and reported, an
operator can end a dead run's lease, a key a person made mid-rotation survives, an uncertain
delivery keeps the key and sends the same one again, and a late account message re-reads the clock."""

from __future__ import annotations

import contextlib
import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient

from central.aws.expiry_item import State, from_epoch
from central.aws.stream_pump import LocalLambdaContext
from central.cli.main import main
from central.domain.errors import DeliveryUncertain
from central.domain.results import Outcome
from central.notify.mailers.base import Mail
from central.rotation.account_queue import AccountMessage
from central.rotation.run import AccountWork, account_scopes, run_rotation
from handlers import account_worker
from tests.integration.conftest import TABLE, Harness, RecordingMailer
from tests.integration.faults import Crash, Faults
from tests.integration.fixtures_extra import (
    LATER,
    after_lease,
    clean_harness,
    delivered_key_id,
    items,
    journal,
    key_ids,
    mails_to,
    pending_pair_exists,
    shared_botocore_loader,  # noqa: F401 - autouse: shared service models (speed)
    user_rows,
)
from tests.support.world import caller_arn

pytestmark = pytest.mark.usefixtures("ikr_logging_restored")


def _alice(params: dict[str, Any]) -> bool:
    return bool(params.get("UserName") == "alice")


def _cli(monkeypatch: pytest.MonkeyPatch, central: boto3.Session) -> None:
    central.client("ses").verify_email_identity(EmailAddress="ikr@example.com")
    for name, value in {
        "IAM_KEY_ROTATOR_TABLE": TABLE,
        "MAIL_FROM": "ikr@example.com",
        "MAIL_CLIENT": "ses",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)


def _run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main(list(args))
    return code, out.getvalue()


def _statuses(harness: Harness, user: str) -> dict[str, str]:
    iam = harness.world.session(harness.world.account_ids["prod"]).client("iam")
    return {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]}


def test_a_live_lease_is_reported_and_an_operator_can_end_it(central: boto3.Session, monkeypatch: pytest.MonkeyPatch):
    harness = clean_harness(central)
    _cli(monkeypatch, central)
    prod = harness.world.account_ids["prod"]
    (old,) = key_ids(harness, "prod", "alice")
    faults = Faults(monkeypatch)
    faults.crash_after("CreateAccessKey", when=_alice)
    with pytest.raises(Crash):
        main(["rotate", "--now", LATER.isoformat(), "--account", prod])
    faults.clear()
    (left,) = journal(harness)

    code, out = _run("rotate", "--now", LATER.isoformat(), "--account", prod)

    assert code == 0  # another run's live lease is not a failure
    assert f"in-progress   rotation in progress by run {left.run_id} since" in out
    assert "ConditionalCheckFailed" not in out
    assert len(key_ids(harness, "prod", "alice")) == 2  # nothing touched

    assert _run("end-lease", "--account", prod, "--user", "bob")[0] == 2  # no rotation of bob in progress
    code, out = _run("end-lease", "--account", prod, "--user", "alice", "--run", (left.run_id or "").split(".")[0])
    assert code == 0
    assert f"ended the lease of run {left.run_id}" in out

    code, out = _run("rotate", "--now", LATER.isoformat(), "--account", prod)

    assert code == 1  # a person is told about the key nobody recorded
    (crashed,) = set(_statuses(harness, "alice")) - {old}
    assert _statuses(harness, "alice") == {old: "Active", crashed: "Inactive"}
    assert journal(harness) == []


class _HandMade:
    """The user makes a key by hand right after ikr took the rotation's lease (its journal write)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, harness: Harness, crash: bool) -> None:
        self.made: str | None = None
        self.pair: dict[str, str] = {}
        iam = harness.world.session(harness.world.account_ids["prod"]).client("iam")
        original = BaseClient._make_api_call  # type: ignore[attr-defined]

        def call(client: BaseClient, name: str, params: dict[str, Any]) -> Any:
            answer = original(client, name, params)
            item = params.get("Item", {})
            lease = name == "PutItem" and item.get("state", {}).get("S") == "started"
            if self.made is None and lease and item.get("user_name", {}).get("S") == "alice":
                made = iam.create_access_key(UserName="alice")["AccessKey"]
                self.made, self.pair = made["AccessKeyId"], {k: made[k] for k in ("AccessKeyId", "SecretAccessKey")}
                if crash:
                    raise Crash("ikr died right after the user made a key")
            return answer

        monkeypatch.setattr(BaseClient, "_make_api_call", call)


def test_a_key_made_by_hand_between_the_lease_and_create_access_key_survives(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch
):
    harness = clean_harness(central)
    (old,) = key_ids(harness, "prod", "alice")
    hand = _HandMade(monkeypatch, harness, crash=False)

    result = run_rotation(harness.services)

    (row,) = user_rows(result, harness.world.account_ids["prod"], "alice")
    assert row.outcome is Outcome.FAILED
    assert "could not create a new key" in row.detail  # IAM allows two keys: ikr's CreateAccessKey is refused
    assert _statuses(harness, "alice") == {old: "Active", hand.made: "Active"}
    assert journal(harness) == []
    assert mails_to(harness, "alice@example.com") == []


def test_a_key_made_by_hand_while_ikr_is_dead_mid_rotation_is_made_inactive_never_deleted(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch
):
    harness = clean_harness(central)
    (old,) = key_ids(harness, "prod", "alice")
    hand = _HandMade(monkeypatch, harness, crash=True)
    with pytest.raises(Crash):
        run_rotation(harness.services)
    monkeypatch.undo()  # the hand and the crash are gone; the world stays
    after_lease(harness)

    result = run_rotation(harness.services)

    undone, waiting = user_rows(result, harness.world.account_ids["prod"], "alice")
    assert f"Key {hand.made}" in undone.detail
    assert "never used, so ikr made it Inactive (not deleted)" in undone.detail
    assert "aws iam update-access-key --user-name alice" in undone.detail  # the one command to keep it
    assert waiting.outcome is Outcome.PENDING
    assert _statuses(harness, "alice") == {old: "Active", hand.made: "Inactive"}
    (marker,) = [item for item in items(harness, "prod") if item.user_name == "alice"]
    assert marker.unrecorded
    assert from_epoch(marker.expires_at or 0) == harness.services.clock() + timedelta(days=3)  # DELETE_AFTER_DAYS


def test_a_used_key_nobody_recorded_is_left_alone_and_the_output_says_what_happens_next(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch
):
    harness = clean_harness(central)
    (old,) = key_ids(harness, "prod", "alice")
    hand = _HandMade(monkeypatch, harness, crash=True)
    with pytest.raises(Crash):
        run_rotation(harness.services)
    monkeypatch.undo()
    caller_arn(hand.pair)  # the person uses their key: moto records its last use
    after_lease(harness)

    result = run_rotation(harness.services)

    (undone, skipped) = user_rows(result, harness.world.account_ids["prod"], "alice")
    assert "so ikr leaves it alone" in undone.detail
    assert "ikr rotates the user as usual once it has one key" in undone.detail
    assert skipped.outcome is Outcome.SKIPPED
    assert _statuses(harness, "alice") == {old: "Active", hand.made: "Active"}


class _Uncertain(RecordingMailer):
    """The relay took the message and the connection dropped before its answer: uncertain, once."""

    def __init__(self) -> None:
        super().__init__()
        self.drop_next = True

    def send(self, mail: Mail) -> None:
        super().send(mail)
        if self.drop_next and mail.to == "alice@example.com":
            self.drop_next = False
            raise DeliveryUncertain(f"SMTP connection lost after the message to {mail.to} was sent")


def test_an_uncertain_delivery_keeps_the_key_and_the_next_run_sends_the_same_key(central: boto3.Session):
    harness = clean_harness(central, ADMIN_EMAIL="admin@example.com")
    harness.mailer = harness.services.mailer = _Uncertain()
    (old,) = key_ids(harness, "prod", "alice")

    first = run_rotation(harness.services)

    (row,) = user_rows(first, harness.world.account_ids["prod"], "alice")
    assert row.outcome is Outcome.FAILED
    assert "delivery uncertain" in row.detail
    (left,) = journal(harness)
    assert left.state is State.KEY_CREATED
    assert left.delivery_uncertain_at is not None
    assert key_ids(harness, "prod", "alice") == [old, left.new_key_id]  # kept: alice may hold it
    assert pending_pair_exists(harness, "prod", "alice")
    assert [m.subject for m in mails_to(harness, "admin@example.com") if "uncertain" in m.subject]

    later = harness.services.clock() + timedelta(hours=1)
    harness.services.clock = lambda: later  # the lease ended with the uncertain outcome: no wait needed
    second = run_rotation(harness.services)

    resumed, _ = user_rows(second, harness.world.account_ids["prod"], "alice")
    assert resumed.outcome is Outcome.RECOVERED
    sent = mails_to(harness, "alice@example.com")
    assert {delivered_key_id(harness, "prod", "alice", mail) for mail in sent} == {left.new_key_id}
    (scheduled,) = [item for item in items(harness, "prod") if item.user_name == "alice"]
    assert from_epoch(scheduled.expires_at or 0) == later + timedelta(days=3)  # counted from the delivery
    assert not pending_pair_exists(harness, "prod", "alice")


class _Context(LocalLambdaContext):
    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def test_an_account_message_worked_three_days_late_schedules_from_the_clock_not_the_message(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    harness = clean_harness(central)
    _cli(monkeypatch, central)
    scopes, _ = account_scopes(harness.services)
    (prod,) = [scope for scope in scopes if scope.account.name == "prod"]
    message = AccountMessage.for_work(AccountWork(scope=prod, now=LATER, run_id="sent-3-days-ago"))
    late = LATER + timedelta(days=3)
    monkeypatch.setenv("IKR_NOW", late.isoformat())
    event = {
        "Records": [
            {
                "messageId": "m-1",
                "body": message.body(),
                "eventSource": "aws:sqs",
                "receiptHandle": "r",
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": "x",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
                "awsRegion": "us-east-1",
            }
        ]
    }

    answer = account_worker.handler(event, _Context())

    assert answer == {"batchItemFailures": []}
    (scheduled,) = [item for item in items(harness, "prod") if item.user_name == "alice"]
    assert from_epoch(scheduled.expires_at or 0) == late + timedelta(days=3)  # never in the past
