"""What ikr tells beyond mail, as one structured notice, and the interface every channel implements.

A notice names the event, the account, user and keys, and carries one line a person reads; it never
holds a secret. The channels (a webhook: `central.notify.webhook`; EventBridge:
`central.notify.event_bus`) render and send it; `central.notify.fan_out` hands one to each.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import Field

from central.domain.model import Frozen

if TYPE_CHECKING:
    from central.aws.expiry_item import ExpiryItem


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
