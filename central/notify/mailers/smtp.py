"""SMTP through smtplib: implicit TLS (ssl), STARTTLS (tls) or plain for a relay on localhost.

The stages are driven one by one (EHLO, AUTH, MAIL, RCPT, DATA, the body, the final reply) so a
failure says whether the relay may hold the message:
- refused (DeliveryError): no connection, a refusal at the banner, EHLO, STARTTLS, AUTH, MAIL,
  RCPT or the DATA command, a failure while the body was still being sent, or a 4xx/5xx final
  reply after the body (the relay said no);
- uncertain (DeliveryUncertain): the whole body and its terminating dot were sent and the
  connection was lost, or timed out, before the final reply: the relay may have accepted it;
- delivered: a 2xx final reply, whatever happens at QUIT afterwards.

A relay's reply can quote the message back (some 5xx replies do): before it is repeated, every
stretch it shares with the message ikr sent is cut out, as is every remembered secret.
"""

from __future__ import annotations

import contextlib
import io
import re
import smtplib
import ssl
from collections.abc import Callable
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.utils import parseaddr

from pydantic import SecretStr

from central.domain.errors import DeliveryError, DeliveryRefused, DeliveryUncertain, MailQuotaExceeded
from central.notify.mailers.base import Mail, Mailer
from central.settings import SmtpProtocol

TIMEOUT_SECONDS = 30
_CRLF = b"\r\n"
_LEADING_DOT = re.compile(rb"(?m)^\.")
_SHARED = 12  # a run of this many characters also in the sent message is cut out of a reply
_THROTTLED, _DAILY_QUOTA = 454, "daily message quota exceeded"  # SES's SMTP interface


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
        self._sender = sender  # the From header, maybe with a display name
        self._envelope_sender = parseaddr(sender)[1] or sender  # MAIL FROM takes the address alone
        self._user = user
        self._password_source = password
        self._password: SecretStr | None = None

    @property
    def _server(self) -> str:
        return f"SMTP server {self._host}:{self._port}"

    def send(self, mail: Mail) -> None:
        payload = _wire_form(self._message(mail))
        quoted = _Quoted(payload)
        refused = f"{self._server} did not take the mail to {mail.to}"
        try:
            smtp = self._connect()
        except (smtplib.SMTPException, OSError) as exc:
            raise _failure(exc)(f"{refused}: {type(exc).__name__}: {quoted.describe(exc)}") from None
        delivered = False
        try:
            self._log_in(smtp)
            self._envelope(smtp, mail.to, refused, quoted)
            code, reply = self._data(smtp, payload, mail.to, refused, quoted)
            if 200 <= code < 300:
                delivered = True
                return
            if 400 <= code < 600:
                _check_quota(refused, code, reply)
                raise _refusal(code)(f"{refused}: the relay refused it after the message: {code} {quoted(reply)}")
            raise DeliveryUncertain(
                f"{self._server} answered {code} {quoted(reply)} after the message to {mail.to}: it may have been "
                "accepted"
            )
        except smtplib.SMTPAuthenticationError as exc:
            refusal = _refusal(exc.smtp_code)  # 535: the credentials are wrong; 454: try again later
            raise refusal(f"{self._server} refused the login of {self._user}: {exc.smtp_code}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise _failure(exc)(f"{refused}: {type(exc).__name__}: {quoted.describe(exc)}") from None
        finally:
            _close(smtp, polite=delivered)

    def _message(self, mail: Mail) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message.set_content(mail.text)
        message.add_alternative(mail.html, subtype="html")
        return message

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        if self._protocol is SmtpProtocol.SSL:
            return smtplib.SMTP_SSL(self._host, self._port, timeout=TIMEOUT_SECONDS, context=context)
        smtp = smtplib.SMTP(self._host, self._port, timeout=TIMEOUT_SECONDS)
        if self._protocol is SmtpProtocol.TLS:
            try:
                smtp.starttls(context=context)
            except BaseException:
                _close(smtp, polite=False)
                raise
        return smtp

    def _log_in(self, smtp: smtplib.SMTP) -> None:
        smtp.ehlo_or_helo_if_needed()
        if self._password_source is None:
            return
        if self._password is None:
            self._password = self._password_source()  # read once per run
        smtp.login(self._user, self._password.get_secret_value())

    def _envelope(self, smtp: smtplib.SMTP, to: str, refused: str, quoted: _Quoted) -> None:
        code, reply = smtp.mail(self._envelope_sender)
        if code != 250:
            raise _refusal(code)(f"{refused}: MAIL FROM refused: {code} {quoted(reply)}")
        code, reply = smtp.rcpt(to)
        if code not in (250, 251):
            raise _refusal(code)(f"{refused}: recipient refused: {code} {quoted(reply)}")

    def _data(self, smtp: smtplib.SMTP, payload: bytes, to: str, refused: str, quoted: _Quoted) -> tuple[int, bytes]:
        """smtplib's `data`, split where the answer starts to matter: after the terminating dot."""
        smtp.putcmd("data")
        code, reply = smtp.getreply()
        if code != 354:
            _check_quota(refused, code, reply)
            raise _refusal(code)(f"{refused}: DATA refused: {code} {quoted(reply)}")
        body = _LEADING_DOT.sub(b"..", payload)
        if not body.endswith(_CRLF):
            body += _CRLF
        smtp.send(body + b"." + _CRLF)  # a failure here: the relay never saw the end of the message
        try:
            return smtp.getreply()
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryUncertain(
                f"{self._server} lost the connection after the whole message to {to} was sent "
                f"({type(exc).__name__}): it may have been accepted"
            ) from None


def _refusal(code: int) -> type[DeliveryError]:
    """RFC 5321: a 5yz reply is permanent (an unknown or unverified address, a login the server will
    never take, a message it will not carry): only a person mends it, so the retry run leaves it to
    the daily run. A 4yz reply (and anything else) is transient: the retry run tries again."""
    return DeliveryRefused if 500 <= code < 600 else DeliveryError


def _failure(exc: BaseException) -> type[DeliveryError]:
    """A reply smtplib raised (a greeting, HELO or login refused) by its code; no reply at all (a
    connection refused, lost or timed out) is transient."""
    return _refusal(exc.smtp_code) if isinstance(exc, smtplib.SMTPResponseException) else DeliveryError


def _check_quota(refused: str, code: int, reply: bytes | str) -> None:
    """SES's SMTP interface says "454 Throttling failure: Daily message quota exceeded": no mail goes
    before the quota refills, so the run postpones the rest of its mail (MailQuotaExceeded)."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    if code == _THROTTLED and _DAILY_QUOTA in text.lower():
        raise MailQuotaExceeded(f"{refused}: {code} Throttling failure: Daily message quota exceeded")


def _wire_form(message: EmailMessage) -> bytes:
    buffer = io.BytesIO()
    BytesGenerator(buffer).flatten(message, linesep="\r\n")
    return buffer.getvalue()


def _close(smtp: smtplib.SMTP, polite: bool) -> None:
    """QUIT after a delivery (its failure changes nothing), just close otherwise."""
    if polite:
        with contextlib.suppress(smtplib.SMTPException, OSError):
            smtp.quit()
            return
    with contextlib.suppress(OSError):
        smtp.close()


class _Quoted:
    """A relay's reply as ikr may repeat it: decoded, with what it quotes of the sent message cut out."""

    def __init__(self, payload: bytes) -> None:
        self._payload = payload
        self._shared: set[str] | None = None  # made on the first reply to repeat: most mails need none

    def __call__(self, reply: bytes | str) -> str:
        text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
        if self._shared is None:
            sent = self._payload.decode("ascii", "replace")
            _, _, body = sent.partition("\r\n\r\n")  # the headers (addresses, subject) may be quoted freely
            self._shared = {body[i : i + _SHARED] for i in range(len(body) - _SHARED + 1)}
        cut = [False] * len(text)
        for i in range(len(text) - _SHARED + 1):
            if text[i : i + _SHARED] in self._shared:
                cut[i : i + _SHARED] = [True] * _SHARED
        kept: list[str] = []
        for i, char in enumerate(text):
            if not cut[i]:
                kept.append(char)
            elif i == 0 or not cut[i - 1]:
                kept.append("[...]")
        return " ".join("".join(kept).split())  # one line, even for a multi-line reply

    def describe(self, exc: BaseException) -> str:
        # smtplib errors carry the server's reply; socket errors their strerror. Neither holds a password.
        if isinstance(exc, smtplib.SMTPResponseException):
            return f"{exc.smtp_code} {self(exc.smtp_error)}"
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            return "recipient refused"
        return self(str(exc))
