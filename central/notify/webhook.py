"""Notices beyond mail: each event POSTed as JSON to a webhook (Slack, Teams, or anything else).

The body has a `text` field, which a Slack or Teams incoming webhook shows as it is, and the
structured fields (event, account, user, key ids, dates) for anything that parses it. A notice
never carries a secret, and a webhook that fails is logged and never fails the work that raised
it. The URL itself is a secret (it holds the webhook's token): it comes from NOTIFY_WEBHOOK_URL or,
better, from the SSM parameter NOTIFY_WEBHOOK_URL_PARAMETER, and is never logged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger
from pydantic import SecretStr

from central.aws.parameters import CentralParameters
from central.domain.errors import DeliveryError
from central.domain.redaction import remember
from central.notify.mailers.base import read_secret_parameter
from central.notify.notice import Notice, Notifier, NullNotifier

if TYPE_CHECKING:
    import requests

    from central.aws.sessions import Session
    from central.settings import Settings

logger = Logger(service="ikr")
TIMEOUT_SECONDS = 10


class WebhookNotifier(Notifier):
    """Never raises: a bad URL, an unknown host, a TLS error, a time-out, a refusal or anything else
    becomes one error log line naming the channel, and the work that sent the notice goes on."""

    channel = "webhook"

    def __init__(self, url: Callable[[], SecretStr], http: requests.Session | None = None) -> None:
        self._url_source = url
        self._url: SecretStr | None = None
        # requests (and its charset detection) loads only when a webhook is set: a cold start without
        # one does not pay for it.
        import requests  # noqa: PLC0415

        self._http = http or requests.Session()

    def notify(self, notice: Notice) -> bool:
        where = {
            "channel": self.channel,
            "event": notice.event.value,
            "account_id": notice.account_id,
            "user": notice.user,
        }
        try:
            if self._url is None:
                self._url = self._url_source()  # read once per run
                remember(self._url.get_secret_value())
            response = self._http.post(self._url.get_secret_value(), json=notice.payload(), timeout=TIMEOUT_SECONDS)
        except DeliveryError as exc:
            logger.error("webhook notice not sent", extra={**where, "reason": str(exc)})
            return False
        except Exception as exc:  # a notice never stops the work that raised it
            # The exception text may hold the URL, and with it the webhook's token: name only its type.
            logger.error("webhook notice not sent", extra={**where, "reason": _kind(exc)})
            return False
        if not 200 <= response.status_code < 300:
            logger.error("webhook notice refused", extra={**where, "status": response.status_code})
            return False
        return True


def _kind(exc: Exception) -> str:
    """What went wrong, in words that never hold the URL."""
    import requests  # noqa: PLC0415 - loaded already: a request was tried

    if isinstance(exc, requests.Timeout):
        return f"{type(exc).__name__}: no answer within {TIMEOUT_SECONDS} s"
    if isinstance(exc, requests.exceptions.SSLError):
        return f"{type(exc).__name__}: the TLS handshake failed"
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema | ValueError):
        return f"{type(exc).__name__}: the webhook URL does not parse"
    if isinstance(exc, requests.ConnectionError):
        return f"{type(exc).__name__}: the webhook's host could not be reached"
    return type(exc).__name__


def build_notifier(settings: Settings, central: Session) -> Notifier:
    url = settings.NOTIFY_WEBHOOK_URL
    if url is not None:
        remember(url.get_secret_value())
        return WebhookNotifier(lambda: url)
    parameter = settings.NOTIFY_WEBHOOK_URL_PARAMETER
    if parameter:
        parameters = CentralParameters(central)
        return WebhookNotifier(lambda: read_secret_parameter(parameters.secret, parameter, "webhook URL"))
    return NullNotifier()
