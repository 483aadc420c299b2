"""Mailgun's HTTP API through requests; success is any 2xx status, not a magic response text."""

from __future__ import annotations

from collections.abc import Callable

import requests
from pydantic import SecretStr

from central.errors import DeliveryError
from central.mailers.base import Mail, Mailer

TIMEOUT_SECONDS = 20


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
            raise DeliveryError(
                f"Mailgun could not be reached for the mail to {mail.to}: {type(exc).__name__}"
            ) from None
        if not 200 <= response.status_code < 300:
            raise DeliveryError(f"Mailgun refused the mail to {mail.to}: HTTP {response.status_code} {response.reason}")
