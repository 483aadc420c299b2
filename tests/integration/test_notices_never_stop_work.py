"""Rule 6: a notice channel that fails (a webhook URL that does not parse, an unknown host, a TLS
error, a time-out, an admin mailer that raises anything at all) is one logged failure naming the
channel; the run still rotates, exits as it would have, and the other channel still gets its notice.
Driven through `ikr rotate` and `ikr stream-pump` in process, against moto and real local servers."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from central.notify import webhook as notify
from tests.integration.cli_world import (
    ADMIN,
    CliRun,
    ikr,
    keys,
    org,
)
from tests.integration.fixtures_extra import shared_botocore_loader  # noqa: F401 - autouse: speed
from tests.support.servers import SilentServer, SmtpSink, WebhookSink

pytestmark = pytest.mark.usefixtures("ikr_logging_restored")

TOKEN = "T0KEN-webhook-7c1d9e"


@pytest.fixture
def relay() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


def assert_the_run_went_on(run: CliRun, world_keys: list[str], relay: SmtpSink) -> None:
    assert run.code == 1, run.out + run.err  # carol's bad tag, nothing else
    assert "rotated" in run.line_for("alice"), run.out
    assert len(world_keys) == 2  # alice's old key and the new one
    mails = relay.wait_for(2)
    assert sorted(mail.envelope_to[0] for mail in mails) == sorted(["alice@example.com", ADMIN])
    admin = next(mail for mail in mails if mail.envelope_to == (ADMIN,))
    assert "carol" in admin.text  # the admin notice names the failure


def assert_one_failure_per_notice(run: CliRun, reason: str) -> None:
    failures = run.logged("webhook notice not sent")
    # rotation-started: issue 18.5's notice when the journal's intent is written (webhook and EventBridge)
    assert {record.__dict__["event"] for record in failures} == {"rotation-started", "rotated", "run-summary"}
    assert all(record.__dict__["channel"] == "webhook" for record in failures)
    assert all(reason in record.__dict__["reason"] for record in failures), [r.__dict__["reason"] for r in failures]
    assert TOKEN not in run.everything()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        pytest.param(f"https://exa mple/hooks/{TOKEN}", "does not parse", id="space-in-host"),
        pytest.param(f"https://a..b/hooks/{TOKEN}", "does not parse", id="empty-label"),  # urllib3 raises ValueError
        pytest.param(f"https://no-such-host.invalid/hooks/{TOKEN}", "could not be reached", id="unknown-host"),
    ],
)
def test_a_webhook_url_that_cannot_work_does_not_stop_the_run(
    central: boto3.Session,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    relay: SmtpSink,
    url: str,
    reason: str,
):
    world = org(central, monkeypatch, relay.port)
    monkeypatch.setenv("NOTIFY_WEBHOOK_URL", url)

    run = ikr(capsys, caplog, "rotate")

    assert_the_run_went_on(run, keys(world, "prod", "alice"), relay)
    assert_one_failure_per_notice(run, reason)


def test_a_tls_error_does_not_stop_the_run(
    central: boto3.Session,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    relay: SmtpSink,
):
    world = org(central, monkeypatch, relay.port)
    with WebhookSink(token=TOKEN) as plain_http:
        monkeypatch.setenv("NOTIFY_WEBHOOK_URL", plain_http.url.replace("http://", "https://"))
        run = ikr(capsys, caplog, "rotate")
        assert plain_http.received == []

    assert_the_run_went_on(run, keys(world, "prod", "alice"), relay)
    assert_one_failure_per_notice(run, "TLS handshake")


def test_a_webhook_that_never_answers_does_not_stop_the_run(
    central: boto3.Session,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    relay: SmtpSink,
):
    world = org(central, monkeypatch, relay.port)
    monkeypatch.setattr(notify, "TIMEOUT_SECONDS", 0.3)
    with SilentServer() as silent:
        monkeypatch.setenv("NOTIFY_WEBHOOK_URL", silent.url(path=f"/hooks/{TOKEN}"))
        run = ikr(capsys, caplog, "rotate")
        assert silent.connections >= 2

    assert_the_run_went_on(run, keys(world, "prod", "alice"), relay)
    assert_one_failure_per_notice(run, "no answer within")


def test_an_admin_mailer_raising_anything_does_not_stop_the_run_and_the_webhook_still_hears(
    central: boto3.Session,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    relay: SmtpSink,
):
    world = org(central, monkeypatch, relay.port)
    real_rcpt = smtplib.SMTP.rcpt

    def rcpt(self: smtplib.SMTP, recip: str, options: tuple[str, ...] = ()) -> tuple[int, bytes]:
        if recip == ADMIN:
            raise RuntimeError("a bug deep in the mail library")
        return real_rcpt(self, recip, options)

    monkeypatch.setattr(smtplib.SMTP, "rcpt", rcpt)
    with WebhookSink(token=TOKEN) as webhook:
        monkeypatch.setenv("NOTIFY_WEBHOOK_URL", webhook.url)
        run = ikr(capsys, caplog, "rotate")
        events = webhook.events()

    assert run.code == 1, run.out + run.err
    assert "rotated" in run.line_for("alice")
    assert len(keys(world, "prod", "alice")) == 2
    assert [mail.envelope_to for mail in relay.wait_for(1)] == [("alice@example.com",)]
    (failure,) = run.logged("admin notice not mailed")
    assert failure.__dict__["channel"] == "admin mail"
    assert "RuntimeError" in failure.__dict__["reason"]
    assert events == ["rotation-started", "rotated", "run-summary"]  # the other channel heard everything


def test_the_stream_batch_goes_on_when_the_webhook_fails(
    central: boto3.Session,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    relay: SmtpSink,
    tmp_path: Path,
):
    world = org(central, monkeypatch, relay.port)
    monkeypatch.setenv("DELETE_AFTER_DAYS", "1")
    (old,) = keys(world, "prod", "alice")
    assert ikr(capsys, caplog, "rotate").code == 1
    monkeypatch.setenv("NOTIFY_WEBHOOK_URL", f"https://a..b/hooks/{TOKEN}")
    ikr(capsys, caplog, "rotate", days=2)  # the sweep removes alice's item: a REMOVE on the stream

    pumped = ikr(capsys, caplog, "stream-pump", "--checkpoint", str(tmp_path / "checkpoint.json"), days=2)

    assert pumped.code == 0, pumped.out + pumped.err  # nothing left for a retry
    assert "0 left for a retry" in pumped.out
    assert old not in keys(world, "prod", "alice")  # the old key was deleted all the same
    failures = pumped.logged("webhook notice not sent")
    assert failures
    assert all(record.__dict__["channel"] == "webhook" for record in failures)
