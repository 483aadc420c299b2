"""Mailgun's HTTP API through requests; success is any 2xx status, not a magic response text.

Outcomes: no connection (refused, unknown host, TLS handshake, connect time-out) or a 4xx answer
is refused. A request that was sent and whose answer was lost (read time-out, connection dropped
after sending, an unreadable answer) or was a 5xx is uncertain: Mailgun may have queued the mail.
"""

from __future__ import annotations

from collections.abc import Callable

import requests
from pydantic import SecretStr
from urllib3.exceptions import MaxRetryError

from central.domain.errors import DeliveryError, DeliveryRefused, DeliveryUncertain
from central.domain.redaction import remember, scrub
from central.notify.mailers.base import Mail, Mailer

TIMEOUT_SECONDS = 20


_TRANSIENT = frozenset({408, 429})  # a time-out, a rate limit: the retry run tries again


class MailgunMailer(Mailer):
    name = "mailgun"

    def __init__(
        self, api_url: str, sender: str, api_key: Callable[[], SecretStr], http: requests.Session | None = None
    ) -> None:
        self._url = api_url
        self._sender = sender
        self._api_key_source = api_key
        self._api_key: SecretStr | None = None
        self._http = http or requests.Session()

    def send(self, mail: Mail) -> None:
        if self._api_key is None:
            self._api_key = self._api_key_source()  # read once per run, not once per mail
            remember(self._api_key.get_secret_value())
        try:
            response = self._http.post(
                self._url,
                auth=("api", self._api_key.get_secret_value()),
                data={
                    "from": self._sender,
                    "to": mail.to,
                    "subject": mail.subject,
                    "text": mail.text,
                    "html": mail.html,
                },
                timeout=TIMEOUT_SECONDS,
            )
        except requests.RequestException as exc:
            if _answer_lost(exc):
                raise DeliveryUncertain(
                    f"Mailgun took the request for the mail to {mail.to} but its answer was lost "
                    f"({type(exc).__name__}): it may have been sent"
                ) from None
            raise DeliveryError(
                f"Mailgun could not be reached for the mail to {mail.to}: {type(exc).__name__}"
            ) from None
        status, reason = response.status_code, scrub(str(response.reason or ""))
        if 500 <= status < 600:
            raise DeliveryUncertain(
                f"Mailgun failed on the mail to {mail.to} after taking the request: HTTP {status} {reason}; "
                "it may have been sent"
            )
        if not 200 <= status < 300:
            # A bad key, an unverified domain, a refused address: a person mends those, not minutes.
            kind = DeliveryError if status in _TRANSIENT else DeliveryRefused
            raise kind(f"Mailgun refused the mail to {mail.to}: HTTP {status} {reason}")


def _answer_lost(exc: requests.RequestException) -> bool:
    """Whether the request may have reached Mailgun: everything but a failure to connect."""
    if isinstance(exc, requests.ConnectTimeout | requests.exceptions.SSLError | requests.exceptions.ProxyError):
        return False
    if isinstance(exc, requests.ReadTimeout | requests.exceptions.ChunkedEncodingError):
        return True
    if isinstance(exc, requests.exceptions.ContentDecodingError):
        return True
    if isinstance(exc, requests.ConnectionError):
        # requests wraps a failure to connect (refused, unknown host) in MaxRetryError; a connection
        # dropped once the request was on its way arrives as urllib3's ProtocolError or an OSError.
        return not (exc.args and isinstance(exc.args[0], MaxRetryError))
    return False  # an invalid URL and the like: nothing was sent
