"""The mail back ends against real stand-ins: an aiosmtpd server, a local HTTP Mailgun, moto's SES."""

from __future__ import annotations

import base64
import email
import email.policy
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import boto3
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from moto import mock_aws
from pydantic import SecretStr

from central.aws.ses import SesSender
from central.domain.errors import DeliveryError
from central.notify.mailers import Mail, SesMailer, SmtpMailer, build_mailer
from central.notify.mailers.mailgun import MailgunMailer
from central.settings import Settings, SmtpProtocol

PASSWORD = "s3cret-smtp-pa55"
API_KEY = "key-0123456789abcdef"
MAIL = Mail(
    to="alice@example.com",
    subject="New AWS access key for alice in payments (111122223333)",
    text="Access key id: AKIAEXAMPLE\nSecret access key: abc/def",
    html="<html><body><p>Access key id: <code>AKIAEXAMPLE</code></p></body></html>",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# -- SMTP ----------------------------------------------------------------------------------------------
class Sink:
    def __init__(self) -> None:
        self.envelopes: list[Any] = []
        self.logins: list[tuple[bytes, bytes]] = []
        self.reject_data = False

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.reject_data:
            return "554 5.7.1 message refused by policy"
        self.envelopes.append(envelope)
        return "250 OK"

    def authenticator(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        self.logins.append((auth_data.login, auth_data.password))
        # handled=False: aiosmtpd answers 535 itself (its default, handled=True, answers nothing)
        return AuthResult(success=auth_data.password == PASSWORD.encode(), handled=False)

    def messages(self) -> list[email.message.EmailMessage]:
        return [
            email.message_from_bytes(envelope.original_content, policy=email.policy.default)
            for envelope in self.envelopes
        ]


@pytest.fixture
def smtp_server() -> Iterator[tuple[Sink, int]]:
    sink = Sink()
    port = free_port()
    controller = Controller(
        sink, hostname="127.0.0.1", port=port, authenticator=sink.authenticator, auth_require_tls=False
    )
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


class CountingSecret:
    def __init__(self, value: str) -> None:
        self.value = value
        self.reads = 0

    def __call__(self) -> SecretStr:
        self.reads += 1
        return SecretStr(self.value)


def smtp_mailer(port: int, password: CountingSecret | None = None, protocol=SmtpProtocol.PLAIN) -> SmtpMailer:
    return SmtpMailer("127.0.0.1", port, protocol, "ikr@example.com", "relay-user", password)


def test_smtp_delivers_headers_and_both_parts(smtp_server):
    sink, port = smtp_server

    smtp_mailer(port).send(MAIL)

    (envelope,) = sink.envelopes
    assert envelope.mail_from == "ikr@example.com"
    assert envelope.rcpt_tos == ["alice@example.com"]
    (message,) = sink.messages()
    assert message["From"] == "ikr@example.com"
    assert message["To"] == "alice@example.com"
    assert message["Subject"] == MAIL.subject
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None
    assert html is not None
    assert plain.get_content().replace("\r\n", "\n").strip() == MAIL.text
    assert html.get_content().replace("\r\n", "\n").strip() == MAIL.html
    assert sink.logins == []  # no password source: no login


def test_smtp_reads_the_password_once_for_many_mails_and_logs_in_each_time(smtp_server):
    sink, port = smtp_server
    password = CountingSecret(PASSWORD)
    mailer = smtp_mailer(port, password)

    for n in range(3):
        mailer.send(MAIL.model_copy(update={"to": f"user{n}@example.com"}))

    assert password.reads == 1
    assert sink.logins == [(b"relay-user", PASSWORD.encode())] * 3
    assert [envelope.rcpt_tos for envelope in sink.envelopes] == [[f"user{n}@example.com"] for n in range(3)]


def test_a_refused_login_is_a_delivery_error_without_the_password(smtp_server):
    sink, port = smtp_server
    wrong = "wr0ng-pa55word"

    with pytest.raises(DeliveryError) as raised:
        smtp_mailer(port, CountingSecret(wrong)).send(MAIL)

    message = str(raised.value)
    assert f"127.0.0.1:{port}" in message
    assert "relay-user" in message
    assert "535" in message
    assert wrong not in message
    assert wrong not in repr(raised.value.__context__)
    assert sink.envelopes == []


def test_a_refused_message_is_a_delivery_error_with_the_servers_reply(smtp_server):
    sink, port = smtp_server
    sink.reject_data = True

    with pytest.raises(DeliveryError) as raised:
        smtp_mailer(port, CountingSecret(PASSWORD)).send(MAIL)

    message = str(raised.value)
    assert "alice@example.com" in message
    assert "554" in message
    assert "refused by policy" in message
    assert PASSWORD not in message


def test_an_smtp_server_that_is_not_there_is_a_delivery_error():
    port = free_port()

    with pytest.raises(DeliveryError, match=f"127.0.0.1:{port} did not take the mail to alice@example.com"):
        smtp_mailer(port).send(MAIL)


def test_implicit_tls_against_a_plain_server_is_a_delivery_error(smtp_server):
    _sink, port = smtp_server

    with pytest.raises(DeliveryError, match="did not take the mail"):
        smtp_mailer(port, protocol=SmtpProtocol.SSL).send(MAIL)


# -- Mailgun -------------------------------------------------------------------------------------------
class MailgunStandIn:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                stand_in.requests.append(
                    {"path": self.path, "auth": self.headers["Authorization"], "form": parse_qs(body)}
                )
                self.send_response(stand_in.status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"message": "Queued. Thank you."}')

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v3/mg.example.com/messages"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)


@pytest.fixture
def mailgun(monkeypatch: pytest.MonkeyPatch) -> Iterator[MailgunStandIn]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    stand_in = MailgunStandIn()
    stand_in.thread.start()
    try:
        yield stand_in
    finally:
        stand_in.server.shutdown()
        stand_in.server.server_close()


def test_mailgun_posts_the_form_with_basic_auth(mailgun: MailgunStandIn):
    MailgunMailer(mailgun.url, "ikr@example.com", CountingSecret(API_KEY)).send(MAIL)

    (request,) = mailgun.requests
    assert request["path"] == "/v3/mg.example.com/messages"
    assert request["auth"] == "Basic " + base64.b64encode(f"api:{API_KEY}".encode()).decode()
    assert request["form"] == {
        "from": ["ikr@example.com"],
        "to": ["alice@example.com"],
        "subject": [MAIL.subject],
        "text": [MAIL.text],
        "html": [MAIL.html],
    }


@pytest.mark.parametrize("status", [200, 202])
def test_mailgun_takes_any_2xx_as_delivered(mailgun: MailgunStandIn, status: int):
    mailgun.status = status
    key = CountingSecret(API_KEY)
    mailer = MailgunMailer(mailgun.url, "ikr@example.com", key)

    mailer.send(MAIL)
    mailer.send(MAIL)

    assert len(mailgun.requests) == 2
    assert key.reads == 1


@pytest.mark.parametrize("status", [401, 500])
def test_a_mailgun_refusal_is_a_delivery_error_naming_the_status_not_the_key(mailgun: MailgunStandIn, status: int):
    mailgun.status = status

    with pytest.raises(DeliveryError) as raised:
        MailgunMailer(mailgun.url, "ikr@example.com", CountingSecret(API_KEY)).send(MAIL)

    message = str(raised.value)
    assert f"HTTP {status}" in message
    assert "alice@example.com" in message
    assert API_KEY not in message


def test_mailgun_not_reachable_is_a_delivery_error_without_the_key(monkeypatch: pytest.MonkeyPatch):
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    url = f"http://127.0.0.1:{free_port()}/v3/mg.example.com/messages"

    with pytest.raises(DeliveryError, match="Mailgun could not be reached") as raised:
        MailgunMailer(url, "ikr@example.com", CountingSecret(API_KEY)).send(MAIL)

    assert API_KEY not in str(raised.value)
    assert raised.value.__suppress_context__


# -- SES and choosing the back end ---------------------------------------------------------------------
@pytest.fixture
def central(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.Session]:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        yield boto3.Session(region_name="us-east-1")


def test_ses_sends_from_a_verified_address(central: boto3.Session):
    from moto.ses.models import ses_backends

    ses = central.client("ses")
    ses.verify_email_identity(EmailAddress="ikr@example.com")

    SesMailer(SesSender(ses), "ikr@example.com").send(MAIL)

    (sent,) = ses_backends["123456789012"]["us-east-1"].sent_messages
    assert sent.source == "ikr@example.com"
    assert sent.destinations["ToAddresses"] == ["alice@example.com"]
    assert sent.subject == MAIL.subject


def test_ses_refusing_an_unverified_sender_is_a_delivery_error(central: boto3.Session):
    with pytest.raises(DeliveryError, match=r"SES refused the mail to alice@example\.com: MessageRejected"):
        SesMailer(SesSender(central.client("ses")), "ikr@example.com").send(MAIL)


def settings(**values: object) -> Settings:
    return Settings.model_validate({"MAIL_FROM": "ikr@example.com", **values})


def test_build_mailer_picks_ses_by_default(central: boto3.Session):
    assert isinstance(build_mailer(settings(), central), SesMailer)


def test_build_mailer_makes_a_mailgun_mailer_with_the_key_from_ssm(central: boto3.Session, mailgun: MailgunStandIn):
    central.client("ssm").put_parameter(Name="/ikr/mailgun-api-key", Value=API_KEY, Type="SecureString")
    mailer = build_mailer(
        settings(MAIL_CLIENT="mailgun", MAILGUN_API_URL=mailgun.url, MAILGUN_API_KEY_NAME="/ikr/mailgun-api-key"),
        central,
    )

    assert isinstance(mailer, MailgunMailer)
    mailer.send(MAIL)
    (request,) = mailgun.requests
    assert request["auth"] == "Basic " + base64.b64encode(f"api:{API_KEY}".encode()).decode()
    assert request["form"]["from"] == ["ikr@example.com"]


def test_a_missing_mailgun_key_parameter_is_a_delivery_error_naming_it(central: boto3.Session):
    mailer = build_mailer(
        settings(MAIL_CLIENT="mailgun", MAILGUN_API_URL="http://127.0.0.1:9/x", MAILGUN_API_KEY_NAME="/ikr/none"),
        central,
    )

    with pytest.raises(DeliveryError, match="Mailgun API key from SSM parameter /ikr/none: ParameterNotFound"):
        mailer.send(MAIL)


def test_build_mailer_makes_an_smtp_mailer_with_the_password_from_ssm(central: boto3.Session, smtp_server):
    sink, port = smtp_server
    central.client("ssm").put_parameter(Name="/ikr/smtp-password", Value=PASSWORD, Type="SecureString")
    mailer = build_mailer(
        settings(
            MAIL_CLIENT="smtp",
            SMTP_SERVER="127.0.0.1",
            SMTP_PORT=port,
            SMTP_PROTOCOL="plain",
            SMTP_PASSWORD_PARAMETER="/ikr/smtp-password",
        ),
        central,
    )

    assert isinstance(mailer, SmtpMailer)
    mailer.send(MAIL)
    assert sink.logins == [(b"ikr@example.com", PASSWORD.encode())]  # SMTP_USER defaults to MAIL_FROM
    assert len(sink.envelopes) == 1


def test_build_mailer_smtp_without_a_password_parameter_does_not_log_in(central: boto3.Session, smtp_server):
    sink, port = smtp_server
    mailer = build_mailer(
        settings(MAIL_CLIENT="smtp", SMTP_SERVER="127.0.0.1", SMTP_PORT=port, SMTP_PROTOCOL="plain"), central
    )

    mailer.send(MAIL)

    assert sink.logins == []
    assert len(sink.envelopes) == 1
