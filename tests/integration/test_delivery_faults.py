"""Delivery faults, each against a real misbehaving server or injected at the botocore level: the
mailer's outcome is delivered, refused (DeliveryError: the server said no before accepting it) or
uncertain (DeliveryUncertain: the request was sent and its answer lost or a server error), and
exactly that one.

Counted for the closing note ("delivery faults tried"): every case below is one fault;
`pytest --collect-only -q tests/integration/test_delivery_faults.py | grep -c ::`.
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.endpoint
import pytest
import requests
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.exceptions import ConnectionClosedError, ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError
from moto.ses.models import ses_backends
from pydantic import SecretStr

from central.aws import clients as aws
from central.aws.ses import SesSender
from central.domain.errors import DeliveryError, DeliveryRefused, DeliveryUncertain
from central.notify.mailers import SesMailer, SmtpMailer, build_mailer
from central.notify.mailers import mailgun as mailgun_module
from central.notify.mailers import smtp as smtp_module
from central.notify.mailers.base import Mail
from central.notify.mailers.mailgun import MailgunMailer
from central.settings import Settings, SmtpProtocol
from tests.integration.faults import _Body
from tests.support.servers import (
    DROP,
    HANG,
    QUOTE,
    FaultySmtpServer,
    HangUpServer,
    MailgunStandIn,
    SilentServer,
    free_port,
)

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
MAIL = Mail(
    to="alice@example.com",
    subject="New AWS access key for alice in prod (111122223333)",
    text=f"Access key id: AKIAEXAMPLE\nSecret access key: {SECRET}\n",
    html=f"<html><body><p>Secret access key: <code>{SECRET}</code></p></body></html>",
)
API_KEY = "key-faults-0123456789abcdef"

# REFUSED: nothing went, and minutes may mend it (the retry run tries again); REFUSED_FOR_GOOD: nothing
# went and only a person mends it (DeliveryRefused: the retry run leaves it to the daily run).
DELIVERED, REFUSED, REFUSED_FOR_GOOD, UNCERTAIN = "delivered", "refused", "refused for good", "uncertain"


def outcome(send: Any) -> tuple[str, str]:
    """What one send came to, and the error's text."""
    try:
        send()
    except DeliveryUncertain as exc:
        return UNCERTAIN, str(exc)
    except DeliveryRefused as exc:
        return REFUSED_FOR_GOOD, str(exc)
    except DeliveryError as exc:
        return REFUSED, str(exc)
    return DELIVERED, ""


# -- SMTP ------------------------------------------------------------------------------------------
def smtp(port: int) -> SmtpMailer:
    return SmtpMailer("127.0.0.1", port, SmtpProtocol.PLAIN, "ikr@example.com", "relay-user", None)


@pytest.fixture
def short_smtp_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(smtp_module, "TIMEOUT_SECONDS", 1)


SMTP_CASES = [
    # (stage, server's behaviour, outcome)
    ("banner", "421 4.3.2 too busy", REFUSED),
    ("banner", "554 5.7.1 no service for you", REFUSED_FOR_GOOD),
    ("banner", DROP, REFUSED),
    ("ehlo", "421 4.3.2 closing", REFUSED),
    ("ehlo", "550 5.5.1 no hello", REFUSED_FOR_GOOD),
    ("ehlo", DROP, REFUSED),
    ("mail", "451 4.3.0 try later", REFUSED),
    ("mail", "553 5.1.8 sender refused", REFUSED_FOR_GOOD),
    ("mail", DROP, REFUSED),
    ("rcpt", "450 4.2.1 mailbox busy", REFUSED),
    ("rcpt", "550 5.1.1 no such user", REFUSED_FOR_GOOD),
    ("rcpt", DROP, REFUSED),
    ("data", "451 4.3.0 not now", REFUSED),
    ("data", "554 5.5.1 no valid recipients", REFUSED_FOR_GOOD),
    ("data", DROP, REFUSED),
    ("end", "451 4.3.0 queue full", REFUSED),
    ("end", "554 5.7.1 refused by policy", REFUSED_FOR_GOOD),
    ("end", QUOTE, REFUSED_FOR_GOOD),  # a 554
    ("end", DROP, UNCERTAIN),  # the whole message was sent: the relay may have it
    ("end", HANG, UNCERTAIN),  # ... and the answer never came (time-out)
    ("quit", DROP, DELIVERED),  # 250 for the message, then the connection fails: delivered
    ("quit", "421 4.3.2 bye", DELIVERED),
]


@pytest.mark.usefixtures("short_smtp_timeout")
@pytest.mark.parametrize(("stage", "behaviour", "expected"), SMTP_CASES, ids=[f"{c[0]}-{c[1][:3]}" for c in SMTP_CASES])
def test_smtp_fault_at_each_stage(stage: str, behaviour: str, expected: str):
    with FaultySmtpServer({stage: behaviour}) as server:
        result, text = outcome(lambda: smtp(server.port).send(MAIL))

    assert result == expected, text
    assert SECRET not in text
    if expected == DELIVERED:
        assert [mail.envelope_to for mail in server.accepted] == [("alice@example.com",)]
    else:
        assert server.accepted == []
        assert "alice@example.com" in text
    if stage == "end" and expected in (REFUSED, REFUSED_FOR_GOOD):
        assert server.received, "the relay read the message before it refused it"
    if behaviour[:1] in ("4", "5") and expected != DELIVERED:
        assert behaviour[:3] in text  # the relay's code is repeated


def test_smtp_nobody_listening_is_refused():
    result, text = outcome(lambda: smtp(free_port()).send(MAIL))

    assert result == REFUSED
    assert "did not take the mail to alice@example.com" in text


def test_smtp_connection_lost_while_the_body_is_sent_is_refused(monkeypatch: pytest.MonkeyPatch):
    """The relay never saw the final dot: it cannot have accepted the message."""
    real_send = smtplib.SMTP.send

    def send(self: smtplib.SMTP, data: bytes | str) -> None:
        if isinstance(data, bytes) and data.endswith(b"\r\n.\r\n"):
            self.close()
            raise smtplib.SMTPServerDisconnected("Connection reset while sending the message")
        real_send(self, data)

    monkeypatch.setattr(smtplib.SMTP, "send", send)
    with FaultySmtpServer() as server:
        result, _ = outcome(lambda: smtp(server.port).send(MAIL))

    assert result == REFUSED
    assert server.received == []


def test_a_relay_quoting_the_message_in_its_refusal_does_not_repeat_the_secret():
    with FaultySmtpServer({"end": QUOTE}) as server:
        result, text = outcome(lambda: smtp(server.port).send(MAIL))

    assert result == REFUSED_FOR_GOOD  # a 554
    assert SECRET in server.received[0].decode()  # the relay did quote it...
    assert "554" in text
    assert SECRET not in text  # ...and ikr did not repeat it
    assert SECRET[:12] not in text


def test_a_relay_quoting_an_encoded_message_is_cut_too():
    """A long line makes the body quoted-printable: the quote holds the encoded secret in pieces."""
    long_line = "Encrypted secret access key: gAAAAAB" + "x9Yq/Kp+Zw" * 20 + "=="
    mail = MAIL.model_copy(update={"text": long_line + "\n", "html": f"<p>{long_line}</p>"})
    with FaultySmtpServer({"end": QUOTE}) as server:
        result, text = outcome(lambda: smtp(server.port).send(mail))

    assert result == REFUSED_FOR_GOOD  # a 554
    assert "x9Yq/Kp+Zw" not in text


# -- SES -------------------------------------------------------------------------------------------
@pytest.fixture
def ses(central: boto3.Session, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    aws.configure(Settings(MAIL_FROM="ikr@example.com", IKR_AWS_MAX_ATTEMPTS=3))  # botocore's retries, as in a run
    monkeypatch.setattr(botocore.endpoint, "time", type("NoSleep", (), {"sleep": staticmethod(lambda _s: None)}))
    client = aws.ses(central)
    client.verify_email_identity(EmailAddress="ikr@example.com")
    yield client
    aws.configure(Settings(MAIL_FROM="ikr@example.com"))


def sent_by_ses() -> int:
    return len(ses_backends["123456789012"]["us-east-1"].sent_messages)


def server_error(request: AWSPreparedRequest, status: int, code: str) -> AWSResponse:
    body = (
        f"<ErrorResponse><Error><Type>Receiver</Type><Code>{code}</Code><Message>injected {code}</Message></Error>"
        "<RequestId>fault</RequestId></ErrorResponse>"
    ).encode()
    return AWSResponse(request.url, status, {"Content-Type": "text/xml"}, _Body(body))


class SesFault:
    """A `before-send` handler per attempt: 'pass' lets moto answer; 'after' lets moto take the mail
    and then loses the answer (ReadTimeoutError); others raise or answer before moto sees it."""

    def __init__(self, client: Any, plan: list[str]) -> None:
        self.plan = plan
        self.attempts = 0
        # last of every before-send handler: moto's stubber answers (SES takes the mail), then this runs
        client.meta.events.register_last("before-send", self, unique_id="ses-fault-after")
        client.meta.events.register_first("before-send.ses.SendEmail", self.before, unique_id="ses-fault-before")

    def step(self) -> str:
        return self.plan[min(self.attempts, len(self.plan) - 1)]

    def before(self, request: AWSPreparedRequest, **_kwargs: Any) -> AWSResponse | None:
        step = self.step()
        if step == "refuse-connect":
            self.attempts += 1
            raise EndpointConnectionError(endpoint_url=request.url)
        if step == "connect-timeout":
            self.attempts += 1
            raise ConnectTimeoutError(endpoint_url=request.url)
        if step in ("500", "503"):
            self.attempts += 1
            request.headers["x-ikr-fault-answered"] = "1"
            return server_error(request, int(step), "InternalFailure" if step == "500" else "ServiceUnavailable")
        if step == "400":
            self.attempts += 1
            request.headers["x-ikr-fault-answered"] = "1"
            return AWSResponse(
                request.url,
                400,
                {"Content-Type": "text/xml"},
                _Body(
                    b"<ErrorResponse><Error><Type>Sender</Type><Code>MessageRejected</Code>"
                    b"<Message>Email address is not verified.</Message></Error></ErrorResponse>"
                ),
            )
        return None

    def __call__(self, request: AWSPreparedRequest, event_name: str = "", **_kwargs: Any) -> None:
        if event_name != "before-send.ses.SendEmail" or request.headers.get("x-ikr-fault-answered"):
            return
        step = self.step()
        if step in ("after", "closed"):
            self.attempts += 1
            if step == "after":
                raise ReadTimeoutError(endpoint_url=request.url)
            raise ConnectionClosedError(endpoint_url=request.url)
        if step == "pass":
            self.attempts += 1


@pytest.fixture
def moto_skips_answered(monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests a fault handler answered never reach moto (see tests/integration/faults.py)."""
    from moto.core.botocore_stubber import BotocoreStubber

    stub = BotocoreStubber.__call__

    def unless_answered(stubber: BotocoreStubber, event_name: str, request: AWSPreparedRequest, **kw: Any) -> Any:
        if request.headers.get("x-ikr-fault-answered"):
            return None
        return stub(stubber, event_name, request, **kw)

    monkeypatch.setattr(BotocoreStubber, "__call__", unless_answered)


SES_CASES = [
    # (attempt plan, outcome, SES took the mail)
    (["pass"], DELIVERED, True),
    (["after"], UNCERTAIN, True),  # every attempt reached SES, every answer was lost
    (["closed"], UNCERTAIN, True),
    (["500"], UNCERTAIN, False),  # a 5xx after the retries: SES may have acted
    (["503"], UNCERTAIN, False),
    (["400"], REFUSED_FOR_GOOD, False),  # MessageRejected: an unverified address waits for a person
    (["refuse-connect"], REFUSED, False),  # never connected
    (["connect-timeout"], REFUSED, False),
    (["after", "400"], UNCERTAIN, True),  # an earlier attempt may have sent it: the later 400 does not undo that
    (["after", "pass"], DELIVERED, True),
    (["refuse-connect", "400"], REFUSED_FOR_GOOD, False),
]


@pytest.mark.usefixtures("moto_skips_answered")
@pytest.mark.parametrize(("plan", "expected", "took"), SES_CASES, ids=["+".join(c[0]) for c in SES_CASES])
def test_ses_fault(ses: Any, plan: list[str], expected: str, took: bool):
    fault = SesFault(ses, plan)

    result, text = outcome(lambda: SesMailer(SesSender(ses), "ikr@example.com").send(MAIL))

    assert result == expected, text
    assert (sent_by_ses() > 0) == took
    assert fault.attempts >= 1
    if expected != DELIVERED:
        assert "alice@example.com" in text


def test_ses_throttled_past_the_retries_is_refused(ses: Any, monkeypatch: pytest.MonkeyPatch):
    from tests.integration.faults import Faults

    faults = Faults(monkeypatch)
    faults.throttle([True])

    result, text = outcome(lambda: SesMailer(SesSender(ses), "ikr@example.com").send(MAIL))

    assert result == REFUSED
    assert "Throttling" in text
    assert sent_by_ses() == 0


# -- Mailgun ---------------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


def mailgun(url: str) -> MailgunMailer:
    return MailgunMailer(url, "ikr@example.com", lambda: SecretStr(API_KEY))


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, DELIVERED),
        (500, UNCERTAIN),
        (502, UNCERTAIN),
        (503, UNCERTAIN),
        (400, REFUSED_FOR_GOOD),
        (401, REFUSED_FOR_GOOD),  # a wrong API key
        (403, REFUSED_FOR_GOOD),  # the domain not verified
        (408, REFUSED),
        (429, REFUSED),  # rate limited: minutes mend it
    ],
)
def test_mailgun_http_status(status: int, expected: str):
    with MailgunStandIn(api_key=API_KEY, status=status) as stand_in:
        result, text = outcome(lambda: mailgun(stand_in.url).send(MAIL))

    assert result == expected, text
    assert stand_in.requests == 1
    assert API_KEY not in text
    if expected != DELIVERED:
        assert f"HTTP {status}" in text


def test_mailgun_read_time_out_is_uncertain(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(mailgun_module, "TIMEOUT_SECONDS", 0.5)
    with SilentServer() as silent:
        result, text = outcome(lambda: mailgun(silent.url(path="/v3/mg.example.com/messages")).send(MAIL))

    assert result == UNCERTAIN, text
    assert "ReadTimeout" in text


def test_mailgun_connection_dropped_after_the_request_is_uncertain():
    with HangUpServer() as server:
        result, text = outcome(lambda: mailgun(server.url).send(MAIL))

    assert result == UNCERTAIN, text
    assert server.requests == 1


def test_mailgun_nobody_listening_is_refused():
    result, text = outcome(lambda: mailgun(f"http://127.0.0.1:{free_port()}/v3/x/messages").send(MAIL))

    assert result == REFUSED, text
    assert "could not be reached" in text


def test_mailgun_unknown_host_is_refused():
    result, text = outcome(lambda: mailgun("https://no-such-host.invalid/v3/x/messages").send(MAIL))

    assert result == REFUSED, text


def test_mailgun_tls_to_a_plain_port_is_refused():
    with MailgunStandIn(api_key=API_KEY) as stand_in:
        result, text = outcome(lambda: mailgun(stand_in.url.replace("http://", "https://")).send(MAIL))

    assert result == REFUSED, text
    assert stand_in.requests == 0


def test_mailgun_connect_time_out_is_refused(monkeypatch: pytest.MonkeyPatch):
    """A connect time-out (no route, a dropped SYN) cannot be made on the loopback: raised where
    urllib3 raises it, under requests' own adapter."""
    import urllib3.connection

    def connect_times_out(self: Any) -> None:
        raise urllib3.exceptions.ConnectTimeoutError(self, "connect timed out")

    monkeypatch.setattr(urllib3.connection.HTTPConnection, "connect", connect_times_out)
    result, text = outcome(lambda: mailgun("http://127.0.0.1:9/v3/x/messages").send(MAIL))

    assert result == REFUSED, text
    assert "ConnectTimeout" in text


def test_mailgun_a_broken_http_client_is_uncertain_at_the_mailer_boundary():
    """Anything but a DeliveryError from inside a mailer: ikr cannot tell if the mail left."""

    class Broken(requests.Session):
        def post(self, *_args: Any, **_kwargs: Any) -> requests.Response:
            raise RuntimeError("bug in a library")

    mailer = MailgunMailer("http://127.0.0.1:9/x", "ikr@example.com", lambda: SecretStr(API_KEY), http=Broken())

    result, text = outcome(lambda: mailer.send(MAIL))

    assert result == UNCERTAIN
    assert "RuntimeError" in text


# -- every mailer: the address as mail systems carry it --------------------------------------------
def test_every_mailer_gets_an_internationalized_domain_in_idna_form(central: boto3.Session):
    mail = MAIL.model_copy(update={"to": "user@bücher.example"})
    with FaultySmtpServer() as server, MailgunStandIn(api_key=API_KEY) as stand_in:
        smtp(server.port).send(mail)
        mailgun(stand_in.url).send(mail)
        central.client("ses").verify_email_identity(EmailAddress="ikr@example.com")
        build_mailer(Settings(MAIL_FROM="ikr@example.com"), central).send(mail)

    assert [m.envelope_to for m in server.accepted] == [("user@xn--bcher-kva.example",)]
    assert server.accepted[0].to == "user@xn--bcher-kva.example"
    assert [m["to"] for m in stand_in.messages] == ["user@xn--bcher-kva.example"]
    (sent,) = ses_backends["123456789012"]["us-east-1"].sent_messages
    assert sent.destinations["ToAddresses"] == ["user@xn--bcher-kva.example"]


def test_no_mailer_is_handed_a_non_ascii_local_part():
    with FaultySmtpServer() as server:
        result, text = outcome(lambda: smtp(server.port).send(MAIL.model_copy(update={"to": "jürgen@example.com"})))

    assert result == REFUSED
    assert "jürgen@example.com" in text
    assert server.received == []


# -- key stores (IKR:DELIVERY) ---------------------------------------------------------------------
@pytest.mark.parametrize(("status", "expected"), [(500, UNCERTAIN), (400, REFUSED_FOR_GOOD)])
def test_a_key_store_write_answered_with_an_error(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch, status: int, expected: str
):
    from central.aws.key_stores import write_pair
    from central.domain.delivery import parse_delivery
    from tests.integration.faults import Faults

    faults = Faults(monkeypatch)
    faults.refuse("PutParameter", code="InternalServerError" if status == 500 else "ValidationException", status=status)
    delivery = parse_delivery("ssm:/ikr/ci/key")

    result, text = outcome(lambda: write_pair(central, delivery, "AKIAEXAMPLE", SecretStr(SECRET), "account 1 user ci"))

    assert result == expected, text
    assert SECRET not in text
