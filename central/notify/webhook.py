"""Notices beyond mail: each event POSTed as JSON to a webhook (Slack, Teams, or anything else).

The body has a `text` field, which a Slack or Teams incoming webhook shows as it is, and the
structured fields (event, account, user, key ids, dates) for anything that parses it. A notice
never carries a secret, and a webhook that fails is logged and never fails the work that raised
it. The URL itself is a secret (it holds the webhook's token): it comes from NOTIFY_WEBHOOK_URL or,
better, from the SSM parameter NOTIFY_WEBHOOK_URL_PARAMETER, and is never logged.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import requests
from aws_lambda_powertools import Logger
from pydantic import Field, SecretStr

from central.aws.parameters import CentralParameters
from central.domain.errors import DeliveryError
from central.domain.model import Frozen
from central.domain.redaction import remember
from central.notify.mailers.base import read_secret_parameter

if TYPE_CHECKING:
    from central.aws.expiry_item import ExpiryItem
    from central.aws.sessions import Session
    from central.settings import Settings

logger = Logger(service="ikr")
TIMEOUT_SECONDS = 10


class Event(StrEnum):
    ROTATED = "rotated"
    DELIVERY_FAILED = "delivery-failed"
    OLD_KEY_STILL_USED = "old-key-still-used"
    OLD_KEY_DEACTIVATED = "old-key-deactivated"
    OLD_KEY_RETIRED = "old-key-retired"
    RETIREMENT_POSTPONED = "retirement-postponed"
    DESTRUCTION_GIVEN_UP = "destruction-given-up"
    RUN_SUMMARY = "run-summary"
    MAIL_POSTPONED = "mail-postponed"  # the mail system's daily quota is used up (central.notify.quota_notice)
    REMINDER_SENT = "reminder-sent"  # a user was told its key will be rotated soon (central.rotation.remind)
    EXPOSURE_HANDLED = "exposure-handled"  # AWS reported a key exposed: central.rotation.exposure
    ROTATION_STARTED = "rotation-started"  # the journal's intent is written (state started)
    RESTORED = "restored"  # `ikr restore`: the old key re-activated, its deletion postponed


class Notice(Frozen):
    event: Event
    text: str  # one line a person reads in a chat channel
    account_id: str | None = None
    user: str | None = None
    new_key_id: str | None = None
    old_key_id: str | None = None
    at: datetime | None = None  # when the event's consequence happens (deletion time, ...)
    details: dict[str, Any] = Field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)

    @classmethod
    def about(cls, item: ExpiryItem, event: Event, text: str, **extra: Any) -> Notice:
        """A notice naming the account, user and keys of one rotation's expiry item."""
        return cls(
            event=event,
            text=text,
            account_id=item.account_id,
            user=item.user_name,
            new_key_id=item.new_key_id,
            old_key_id=item.old_key_id,
            **extra,
        )


class Notifier(ABC):
    @abstractmethod
    def notify(self, notice: Notice) -> bool:
        """Hand the notice over; False (after a log line) when that failed. Never raises."""


class NullNotifier(Notifier):
    """No webhook configured: notices are the log lines the work writes anyway."""

    def notify(self, notice: Notice) -> bool:
        return False


class WebhookNotifier(Notifier):
    """Never raises: a bad URL, an unknown host, a TLS error, a time-out, a refusal or anything else
    becomes one error log line naming the channel, and the work that sent the notice goes on."""

    channel = "webhook"

    def __init__(self, url: Callable[[], SecretStr], http: requests.Session | None = None) -> None:
        self._url_source = url
        self._url: SecretStr | None = None
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
