"""A mail system out of its daily quota (issue 16.6): SES's SMTP interface says so as
"454 Throttling failure: Daily message quota exceeded" (the API as a Throttling error, see
tests/integration/test_ses_quotas.py); the run's QuotaGuard then postpones every later mail."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from central.aws.errors import AwsThrottled
from central.domain.errors import DeliveryError, MailQuotaExceeded
from central.notify.admin import AdminNotifier
from central.notify.mailers.base import Mail, Mailer
from central.notify.mailers.quota import POSTPONED, QuotaGuard
from central.notify.mailers.smtp import SmtpMailer
from central.notify.notice import Event
from central.notify.quota_notice import tell_mail_postponed
from central.settings import SmtpProtocol
from tests.support.notices import RecordingNotifier
from tests.unit.test_mailers import MAIL, free_port


class QuotaSink:
    def __init__(self, reply: str) -> None:
        self.reply = reply

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return self.reply


@pytest.fixture
def relay(request: pytest.FixtureRequest) -> Iterator[int]:
    port = free_port()
    controller = Controller(QuotaSink(request.param), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@pytest.mark.parametrize("relay", ["454 Throttling failure: Daily message quota exceeded"], indirect=True)
def test_ses_smtp_saying_the_daily_quota_is_used_up_is_a_mail_quota_refusal(relay: int):
    with pytest.raises(MailQuotaExceeded, match="454 Throttling failure: Daily message quota exceeded"):
        SmtpMailer("127.0.0.1", relay, SmtpProtocol.PLAIN, "ikr@example.com", "", None).send(MAIL)


@pytest.mark.parametrize("relay", ["454 Throttling failure: Maximum sending rate exceeded"], indirect=True)
def test_the_sending_rate_over_smtp_is_an_ordinary_refusal(relay: int):
    with pytest.raises(DeliveryError) as raised:
        SmtpMailer("127.0.0.1", relay, SmtpProtocol.PLAIN, "ikr@example.com", "", None).send(MAIL)
    assert not isinstance(raised.value, MailQuotaExceeded)


class Counting(Mailer):
    name = "counting"

    def __init__(self, quota_after: int) -> None:
        self.sent: list[str] = []
        self.quota_after = quota_after

    def send(self, mail: Mail) -> None:
        if len(self.sent) >= self.quota_after:
            raise MailQuotaExceeded(f"refused the mail to {mail.to}: Daily message quota exceeded")
        self.sent.append(mail.to)


def test_the_guard_closes_on_the_first_quota_refusal_and_tells_once():
    inner = Counting(quota_after=1)
    told: list[str] = []
    guard = QuotaGuard(inner, told.append)

    guard.send(MAIL)
    assert guard.postponed() is None
    with pytest.raises(MailQuotaExceeded, match=r"refused the mail to bob@example\.com"):
        guard.send(MAIL.model_copy(update={"to": "bob@example.com"}))
    with pytest.raises(MailQuotaExceeded, match=f"mail to carol@example.com postponed: {POSTPONED}"):
        guard.send(MAIL.model_copy(update={"to": "carol@example.com"}))

    assert inner.sent == ["alice@example.com"]  # carol's mail never reached the mail system
    assert told == ["refused the mail to bob@example.com: Daily message quota exceeded"]
    assert guard.postponed() == POSTPONED
    assert guard.name == "counting"


def test_a_notice_that_fails_never_changes_the_mails_outcome():
    def broken(_reason: str) -> None:
        raise RuntimeError("webhook down")

    guard = QuotaGuard(Counting(quota_after=0), broken)
    with pytest.raises(MailQuotaExceeded):  # still the quota refusal, not an uncertain delivery
        guard.send(MAIL)


def _claim_raising() -> bool:
    raise AwsThrottled("dynamodb:PutItem", "table ikr-expiry mail-quota notice", "Rate exceeded")


@pytest.mark.parametrize(
    ("claim", "told"),
    [
        pytest.param(None, True, id="no-claim"),  # a command's run: its own guard is the only one
        pytest.param(lambda: True, True, id="claim-won"),
        pytest.param(lambda: False, False, id="claim-lost"),  # another worker of the fan-out told already
        pytest.param(_claim_raising, True, id="claim-failed"),  # a second notice is better than none
    ],
)
def test_the_quota_notice_is_told_by_whoever_wins_the_claim(claim: Any, told: bool):
    notifier = RecordingNotifier()
    admin = AdminNotifier(Counting(quota_after=0), None)

    assert tell_mail_postponed(admin, notifier, "Daily message quota exceeded", claim=claim) is told

    assert [notice.event for notice in notifier.notices] == ([Event.MAIL_POSTPONED] if told else [])
