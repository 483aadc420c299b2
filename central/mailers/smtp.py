"""SMTP through smtplib: implicit TLS (ssl), STARTTLS (tls) or plain for a relay on localhost."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable
from email.message import EmailMessage

from pydantic import SecretStr

from central.errors import DeliveryError
from central.mailers.base import Mail, Mailer
from central.settings import SmtpProtocol

TIMEOUT_SECONDS = 30


class SmtpMailer(Mailer):
    name = "smtp"

    def __init__(
        self,
        host: str,
        port: int,
        protocol: SmtpProtocol,
        sender: str,
        user: str,
        password: Callable[[], SecretStr] | None,
    ) -> None:
        self._host = host
        self._port = port
        self._protocol = protocol
        self._sender = sender
        self._user = user
        self._password_source = password
        self._password: SecretStr | None = None

    def send(self, mail: Mail) -> None:
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message.set_content(mail.text)
        message.add_alternative(mail.html, subtype="html")
        try:
            with self._connect() as smtp:
                if self._password_source is not None:
                    if self._password is None:
                        self._password = self._password_source()  # read once per run
                    smtp.login(self._user, self._password.get_secret_value())
                smtp.send_message(message)
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(
                f"SMTP server {self._host}:{self._port} refused the login of {self._user}: {exc.smtp_code}"
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(
                f"SMTP server {self._host}:{self._port} did not take the mail to {mail.to}: {type(exc).__name__}: "
                f"{_describe(exc)}"
            ) from None

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        if self._protocol is SmtpProtocol.SSL:
            return smtplib.SMTP_SSL(self._host, self._port, timeout=TIMEOUT_SECONDS, context=context)
        smtp = smtplib.SMTP(self._host, self._port, timeout=TIMEOUT_SECONDS)
        if self._protocol is SmtpProtocol.TLS:
            smtp.starttls(context=context)
        return smtp


def _describe(exc: BaseException) -> str:
    # smtplib errors carry the server's reply; socket errors their strerror. Neither holds a password.
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = exc.smtp_error
        return f"{exc.smtp_code} {reply.decode('utf-8', 'replace') if isinstance(reply, bytes) else reply}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "recipient refused"
    return str(exc)
