"""Notices as EventBridge events, for consumers that restart a service or re-read a secret when a key
changes: `source` "ikr", one detail-type per `Event`, and a detail that names the account, user, key
ids, times and reason (never a secret: the detail is scrubbed of every secret the run knows, and a
notice carries none to begin with).

A failed publish is one error log line and never stops the work that raised the notice, as the
webhook's. The bus is EVENT_BUS (default: the account's `default` bus; `off`: no events).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from central.aws import clients as aws
from central.aws.events import EventBus
from central.domain.errors import IkrError
from central.domain.redaction import scrub_value
from central.notify.notice import Event, Notice, Notifier, NullNotifier

if TYPE_CHECKING:
    from central.aws.sessions import Session
    from central.settings import Settings

logger = Logger(service="ikr")

SOURCE = "ikr"
OFF = "off"
SCHEMA_VERSION = 1

# The detail-type of each event, by the event's value; an `Event` member this table does not know yet
# still publishes, under `fallback_detail_type`.
DETAIL_TYPES: dict[str, str] = {
    "rotation-started": "IKR Rotation Started",
    "rotated": "IKR New Key Delivered",
    "delivery-failed": "IKR Rotation Failed",
    "old-key-deactivated": "IKR Old Key Deactivated",
    "old-key-retired": "IKR Old Key Deleted",
    "old-key-still-used": "IKR Old Key Still Used",
    "retirement-postponed": "IKR Retirement Postponed",
    "destruction-given-up": "IKR Deletion Given Up",
    "restored": "IKR Old Key Restored",
    "exposure-handled": "IKR Exposure Handled",
    "reminder-sent": "IKR Reminder Sent",
    "mail-postponed": "IKR Mail Postponed",
    "run-summary": "IKR Run Summary",
}


def fallback_detail_type(value: str) -> str:
    """`some-new-event` -> `IKR Some New Event`: an `Event` member added later publishes unedited."""
    return "IKR " + " ".join(word.capitalize() for word in value.split("-") if word)


def detail_type(event: Event | str) -> str:
    value = event.value if isinstance(event, Event) else str(event)
    return DETAIL_TYPES.get(value) or fallback_detail_type(value)


def event_detail(notice: Notice, occurred_at: datetime) -> dict[str, Any]:
    """The event's detail: stable field names (documented in the README), absent fields left out."""
    reason = notice.details.get("reason")
    detail: dict[str, Any] = {
        "version": SCHEMA_VERSION,
        "event": notice.event.value,
        "account": notice.account_id,
        "user": notice.user,
        "new_key_id": notice.new_key_id,
        "old_key_id": notice.old_key_id,
        "occurred_at": occurred_at.astimezone(UTC).isoformat(),
        "at": notice.at.astimezone(UTC).isoformat() if notice.at is not None else None,
        "reason": str(reason) if reason is not None else None,
        "text": notice.text,
        "details": notice.model_dump(mode="json")["details"] or None,
    }
    # Text ikr did not write (an AWS reason, a relay's refusal) may echo a secret: scrubbed like a log line.
    scrubbed: dict[str, Any] = scrub_value({key: value for key, value in detail.items() if value is not None})
    return scrubbed


class EventBridgeNotifier(Notifier):
    """Never raises: a refused call or entry, a missing bus, denied access become one error log line."""

    channel = "eventbridge"

    def __init__(self, bus: EventBus, clock: Callable[[], datetime]) -> None:
        self._bus = bus
        self._clock = clock

    def notify(self, notice: Notice) -> bool:
        where = {
            "channel": self.channel,
            "bus": self._bus.bus,
            "event": notice.event.value,
            "account_id": notice.account_id,
            "user": notice.user,
        }
        try:
            now = self._clock()
            self._bus.put(SOURCE, detail_type(notice.event), event_detail(notice, now), now)
        except IkrError as exc:
            logger.error("event not published", extra={**where, "reason": str(exc)})
            return False
        except Exception as exc:  # an event never stops the work that raised it
            logger.error("event not published", extra={**where, "reason": type(exc).__name__})
            return False
        return True


def build_event_notifier(settings: Settings, central: Session, clock: Callable[[], datetime]) -> Notifier:
    """EVENT_BUS's notifier (the central account's client: a bus ARN reaches another account's bus)."""
    if settings.EVENT_BUS == OFF:
        return NullNotifier()
    return EventBridgeNotifier(EventBus(aws.events(central), settings.EVENT_BUS), clock)
