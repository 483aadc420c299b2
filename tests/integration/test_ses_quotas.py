"""SES's two throttles as AWS sends them (issue 16.6), moto in process with SES's answers injected
through botocore (`before-send`, so botocore's own retries see them as a real throttle).

- "Daily message quota exceeded" is not retried: the user whose mail it refused keeps the old key
  (the new one removed), the rest of the run's mail users are postponed without a key being made,
  and the administrator and the webhook are told once; the next run, quota refilled, rotates them.
- "Maximum sending rate exceeded" is retried with back-off, but never past the time the Lambda
  invocation has left (read from its context), and the CLI, with no deadline, retries as botocore does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import boto3
import botocore.retries.standard
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse

from central.aws import clients as aws
from central.aws.expiry_table import ExpiryTable
from central.aws.ses import RESERVE_SECONDS, SesSender, TimeLeft, no_deadline
from central.aws.stream_pump import LocalLambdaContext
from central.domain.model import Account
from central.domain.results import Outcome
from central.domain.scope import resolve
from central.notify.mailers.quota import QuotaGuard
from central.notify.mailers.ses import SesMailer
from central.notify.notice import Event
from central.notify.quota_notice import SUBJECT, tell_mail_postponed
from central.rotation.account_queue import AccountMessage
from central.rotation.run import AccountWork, run_rotation
from handlers import account_worker
from tests.integration.conftest import TABLE, Harness, default_spec
from tests.integration.faults import ANSWERED, Faults, _Body
from tests.integration.fixtures_extra import (
    LATER,
    clean_harness,
    items,
    journal,
    key_ids,
    row,
    shared_botocore_loader,  # noqa: F401 - autouse: shared service models (speed)
)
from tests.support.notices import RecordingNotifier
from tests.support.world import World, build_world

DUE = (("prod", "alice"), ("dev", "dave"), ("ops", "olga"))
ADMIN = "admin@example.com"
DAILY = b"Daily message quota exceeded."
RATE = b"Maximum sending rate exceeded."


@dataclass
class SesThrottle:
    """Answers SendEmail with SES's throttling error carrying `message` while `on`."""

    message: bytes
    on: bool = True
    answered: list[str] = field(default_factory=list)
    sent_through: list[str] = field(default_factory=list)  # recipients SES took

    def __call__(self, request: AWSPreparedRequest, **_kwargs: Any) -> AWSResponse | None:
        body = request.body.decode() if isinstance(request.body, bytes) else str(request.body or "")
        to = body.split("Destination.ToAddresses.member.1=", 1)[-1].split("&", 1)[0].replace("%40", "@")
        if not self.on:
            self.sent_through.append(to)
            return None
        self.answered.append(to)
        request.headers[ANSWERED] = "1"  # moto must not send it (Faults.throttle wraps its stubber)
        error = (
            b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>" + self.message + b"</Message>"
            b"</Error><RequestId>ses-quota</RequestId></ErrorResponse>"
        )
        return AWSResponse(request.url, 400, {"Content-Type": "text/xml"}, _Body(error))


def _ses_harness(central: boto3.Session, time_left: TimeLeft = no_deadline) -> tuple[Harness, RecordingNotifier]:
    """A clean Organization whose mail goes through SES behind the run's QuotaGuard, as the wiring
    builds it (`central.wiring._services`)."""
    harness = clean_harness(central, ADMIN_EMAIL=ADMIN)
    central.client("ses").verify_email_identity(EmailAddress="ikr@example.com")
    recorder = RecordingNotifier()
    guard = QuotaGuard(SesMailer(SesSender(aws.ses(central), time_left), "ikr@example.com"))
    harness.services.mailer = guard
    harness.services.notifier = recorder
    guard.on_exhausted = lambda reason: tell_mail_postponed(harness.services.admin, recorder, reason)
    return harness, recorder


def _throttle(faults: Faults, central: boto3.Session, message: bytes) -> tuple[SesThrottle, list[float]]:
    sleeps = faults.throttle([False]).sleeps  # nothing else throttled; back-offs recorded, not slept
    throttle = SesThrottle(message)
    aws.ses(central).meta.events.register_first("before-send.ses.SendEmail", throttle)
    return throttle, sleeps


def _users(result: Any, harness: Harness) -> dict[str, Any]:
    ids = harness.world.account_ids
    return {user: next(u for u in row(result, ids[account]).users if u.user == user) for account, user in DUE}


def test_the_daily_quota_postpones_the_rest_of_the_runs_mail_and_tells_the_administrator_once(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    harness, recorder = _ses_harness(central)
    old = {user: key_ids(harness, account, user) for account, user in DUE}
    faults = Faults(monkeypatch)
    throttle, sleeps = _throttle(faults, central, DAILY)

    result = run_rotation(harness.services, concurrency=1)

    assert len(throttle.answered) == 1  # one request: not retried, and no mail tried after it
    assert sleeps == []
    users = _users(result, harness)
    refused = [user for user, entry in users.items() if entry.outcome is Outcome.FAILED]
    postponed = [user for user, entry in users.items() if entry.outcome is Outcome.SKIPPED]
    assert len(refused) == 1
    assert len(postponed) == 2
    (first,) = refused
    assert "Daily message quota exceeded" in users[first].detail
    assert "removed, old key" in users[first].detail
    for user in postponed:
        assert "rotation postponed: the mail system's daily sending quota is used up" in users[user].detail
        assert not users[user].failed
    creates = [call.params["UserName"] for call in faults.calls if call.operation == "CreateAccessKey"]
    assert creates == [first]  # no key made that could not be mailed
    for account, user in DUE:
        assert key_ids(harness, account, user) == old[user]
        assert [item for item in items(harness, account) if item.user_name == user] == []
    assert journal(harness) == []
    # Told once: one webhook notice, one admin notice (logged; its mail is postponed too).
    assert [notice.event for notice in recorder.notices if notice.event is Event.MAIL_POSTPONED] == [
        Event.MAIL_POSTPONED
    ]
    notices = [record for record in caplog.records if record.getMessage() == f"admin notice: {SUBJECT}"]
    assert len(notices) == 1
    assert result.exit_code == 1

    # The next run, with the quota refilled (a new run has a new guard, as the wiring builds one per run).
    throttle.on = False
    guard = harness.services.mailer
    assert isinstance(guard, QuotaGuard)
    harness.services.mailer = QuotaGuard(guard.inner)
    again = run_rotation(harness.services, concurrency=1)
    assert {user: entry.outcome for user, entry in _users(again, harness).items()} == {
        user: Outcome.ROTATED for _, user in DUE
    }
    assert sorted(throttle.sent_through) == sorted(f"{user}@example.com" for _, user in DUE)


def test_concurrent_accounts_tell_the_administrator_once(central: boto3.Session, monkeypatch: pytest.MonkeyPatch):
    harness, recorder = _ses_harness(central)
    throttle, _ = _throttle(Faults(monkeypatch), central, DAILY)

    result = run_rotation(harness.services, concurrency=3)

    assert 1 <= len(throttle.answered) <= len(DUE)  # accounts under way at once each met the quota
    assert [n.event for n in recorder.notices].count(Event.MAIL_POSTPONED) == 1
    assert all(entry.outcome in (Outcome.FAILED, Outcome.SKIPPED) for entry in _users(result, harness).values())


def test_the_sending_rate_is_retried_only_while_the_invocation_has_time(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch
):
    harness, _ = _ses_harness(central, time_left=lambda: 25.0)
    old = key_ids(harness, "prod", "alice")
    throttle, sleeps = _throttle(Faults(monkeypatch), central, RATE)

    result = run_rotation(harness.services, only=[harness.world.account_ids["prod"]])

    # 25 s left, 15 kept in reserve: a retry goes while its longest back-off (min(2^(n-1), 20) + 5 s)
    # fits in the other 10: after attempts 1, 2 and 3 (6, 7, 9 s), not after attempt 4 (13 s).
    assert len(throttle.answered) == 4
    assert len(sleeps) == 3
    (alice,) = [u for u in row(result, harness.world.account_ids["prod"]).users if u.user == "alice"]
    assert alice.outcome is Outcome.FAILED
    assert "Maximum sending rate exceeded." in alice.detail
    assert "not retried: the next back-off would outlast the time the invocation has left" in alice.detail
    assert key_ids(harness, "prod", "alice") == old


@dataclass
class Invocation(LocalLambdaContext):
    """A Lambda context whose remaining time runs down as botocore backs off (the back-offs are
    recorded, not slept)."""

    budget_ms: int = 70_000
    slept: Callable[[], float] = lambda: 0.0

    def get_remaining_time_in_millis(self) -> int:
        return self.budget_ms - int(self.slept() * 1000)


def _worker_world(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch, message: bytes
) -> tuple[World, SesThrottle, list[float]]:
    """An Organization for the account worker handler (settings from the environment, as its Lambda
    has them) whose every SES client answers SendEmail with SES's throttling `message`; nothing else
    throttled, botocore's back-offs recorded rather than slept."""
    world = build_world(central, default_spec())
    ExpiryTable(central.client("dynamodb"), TABLE).create()
    central.client("ses").verify_email_identity(EmailAddress="ikr@example.com")
    for name, value in {"MAIL_FROM": "ikr@example.com", "IAM_KEY_ROTATOR_TABLE": TABLE}.items():
        monkeypatch.setenv(name, value)
    sleeps = Faults(monkeypatch).throttle([False]).sleeps
    throttle = SesThrottle(message)
    made = SesSender.__init__

    def sender_with_throttle(self: SesSender, ses: Any, time_left: TimeLeft = no_deadline) -> None:
        made(self, ses, time_left)
        ses.meta.events.register_first("before-send.ses.SendEmail", throttle, unique_id="test-ses-throttle")

    monkeypatch.setattr(SesSender, "__init__", sender_with_throttle)
    return world, throttle, sleeps


def test_the_account_worker_reads_its_deadline_from_the_lambda_context(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch
):
    """Through the handler and the wiring: 70 s left when dave's rotation starts (the worker starts
    no user with less than 60), and SES throttling every send. With the longest back-offs botocore
    can choose (1, 2, 4, 8, 16 s), the sixth retry would leave less than the reserve: it is not made."""
    world, throttle, sleeps = _worker_world(central, monkeypatch, RATE)
    monkeypatch.setattr(
        botocore.retries.standard.ExponentialBackoff,
        "delay_amount",
        lambda _self, context: min(2 ** (context.attempt_number - 1), 20),
    )
    scope = resolve(Account(id=world.account_ids["dev"], name="dev"), 60, 3, standalone=True)
    body = AccountMessage.for_work(AccountWork(scope=scope, now=LATER, run_id="deadline-run")).body()
    monkeypatch.setenv("IKR_NOW", LATER.isoformat())
    context = Invocation(function_name="ikr-account-worker", slept=lambda: sum(sleeps))

    response = account_worker.handler(
        {"Records": [{"messageId": "m-1", "receiptHandle": "m-1", "body": body, "attributes": {}}]}, context
    )

    assert response == {"batchItemFailures": []}
    assert sleeps == [1, 2, 4, 8, 16]
    assert context.get_remaining_time_in_millis() / 1000 - (20 + 5) < RESERVE_SECONDS
    assert len(throttle.answered) == 6
    keys = world.session(world.account_ids["dev"]).client("iam").list_access_keys(UserName="dave")
    assert len(keys["AccessKeyMetadata"]) == 1  # the new key removed again, the old one kept


def test_the_workers_of_a_fan_out_run_tell_the_administrator_once_between_them(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    """Each account message is its own worker invocation with its own QuotaGuard: each meets the daily
    quota with its first mail, and the table's one notice claim lets only the first tell. A day later
    the quota is still used up: that run tells again."""
    world, throttle, _sleeps = _worker_world(central, monkeypatch, DAILY)

    def work(account: str, now: datetime, run_id: str) -> None:
        scope = resolve(Account(id=world.account_ids[account], name=account), 60, 3, standalone=True)
        body = AccountMessage.for_work(AccountWork(scope=scope, now=now, run_id=run_id)).body()
        monkeypatch.setenv("IKR_NOW", now.isoformat())
        record = {"messageId": f"{run_id}-{account}", "receiptHandle": "h", "body": body, "attributes": {}}
        account_worker.handler({"Records": [record]}, LocalLambdaContext(function_name="ikr-account-worker"))

    def told() -> int:
        return sum(1 for record in caplog.records if record.getMessage() == f"admin notice: {SUBJECT}")

    work("prod", LATER, "run-1")
    work("dev", LATER + timedelta(minutes=2), "run-1")
    work("sandbox", LATER + timedelta(minutes=4), "run-1")

    assert len(throttle.answered) == 3  # each invocation met the quota with its own first mail
    assert told() == 1

    work("prod", LATER + timedelta(days=1), "run-2")
    assert told() == 2
