"""The one source of the current time, so `--now` / `IKR_NOW` can plan ahead and tests can travel."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def fixed_clock(instant: datetime) -> Clock:
    aware = instant if instant.tzinfo else instant.replace(tzinfo=UTC)
    return lambda: aware


def clock_for(now: datetime | None) -> Clock:
    return fixed_clock(now) if now is not None else system_clock
