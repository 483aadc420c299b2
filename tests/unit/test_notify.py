"""Webhook notices: JSON with a `text` field and the structured fields; a failing webhook is logged,
never raised, and the URL (it holds the webhook's token) never reaches a log line."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from central.domain.errors import DeliveryError
from central.notify.notice import Event, Notice, NullNotifier
from central.notify.webhook import WebhookNotifier
from tests.support.servers import WebhookSink, free_port

NOTICE = Notice(
    event=Event.ROTATED,
    text="ikr rotated alice in account prod (111122223333): new key AKIANEW mailed",
    account_id="111122223333",
    user="alice",
    new_key_id="AKIANEW",
    old_key_id="AKIAOLD",
    at=datetime(2027, 3, 1, 12, tzinfo=UTC),
    details={"resumed": False},
)


@pytest.fixture
def sink() -> Iterator[WebhookSink]:
    with WebhookSink() as started:
        yield started


def test_a_notice_is_posted_as_json_a_chat_webhook_shows(sink: WebhookSink):
    assert WebhookNotifier(lambda: SecretStr(sink.url)).notify(NOTICE) is True

    (body,) = sink.received
    assert body["text"] == NOTICE.text  # what Slack and Teams show
    assert body["event"] == "rotated"
    assert (body["account_id"], body["user"], body["new_key_id"], body["old_key_id"]) == (
        "111122223333",
        "alice",
        "AKIANEW",
        "AKIAOLD",
    )
    assert body["at"] == "2027-03-01T12:00:00Z"
    assert body["details"] == {"resumed": False}


@pytest.mark.parametrize("status", [404, 500])
def test_a_refusing_webhook_is_logged_not_raised(sink: WebhookSink, status: int, caplog: pytest.LogCaptureFixture):
    sink.status = status

    assert WebhookNotifier(lambda: SecretStr(sink.url)).notify(NOTICE) is False

    (record,) = [r for r in caplog.records if r.getMessage() == "webhook notice refused"]
    assert record.__dict__["status"] == status
    assert sink.token not in str([r.__dict__ for r in caplog.records])


def test_an_unreachable_webhook_is_logged_without_its_url(caplog: pytest.LogCaptureFixture):
    url = f"http://127.0.0.1:{free_port()}/hooks/secret-token-in-the-path"

    assert WebhookNotifier(lambda: SecretStr(url)).notify(NOTICE) is False

    logged = str([r.__dict__ for r in caplog.records])
    assert "webhook notice not sent" in logged
    assert "secret-token-in-the-path" not in logged


def test_a_url_that_cannot_be_read_is_logged_and_the_next_notice_tries_again(
    sink: WebhookSink, caplog: pytest.LogCaptureFixture
):
    answers = iter([DeliveryError("cannot read the webhook URL from SSM parameter /x: AccessDenied"), sink.url])

    def source() -> SecretStr:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return SecretStr(answer)

    notifier = WebhookNotifier(source)

    assert notifier.notify(NOTICE) is False
    assert notifier.notify(NOTICE) is True
    assert "AccessDenied" in str([r.__dict__ for r in caplog.records])


def test_without_a_webhook_nothing_is_sent():
    assert NullNotifier().notify(NOTICE) is False
