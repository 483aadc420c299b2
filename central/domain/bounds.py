"""Upper bounds on every number that reaches datetime arithmetic, so none can overflow it.

Settings, tags, queue messages and table items are checked against these at the edge. The bounds
nest: the latest instant ikr accepts as "now" plus the longest span any setting or tag can add
stays well before the latest epoch second an expiry item may carry, and that plus the longest span
stays far below `datetime.max` (year 9999). So a value that passed its check can never make
`timedelta`, `datetime + timedelta` or `datetime.fromtimestamp` raise `OverflowError`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from central.domain.tags import MAX_DAYS  # a hundred years, as for the IKR:*_AFTER_DAYS tags

__all__ = [
    "EARLIEST_NOW",
    "LATEST_NOW",
    "MAX_DAYS",
    "MAX_DESTROY_ATTEMPTS",
    "MAX_EPOCH",
    "MAX_RETRY_MINS",
    "MAX_WINDOW_DAYS",
    "check_now",
]

MAX_WINDOW_DAYS = 365  # DEACTIVATE_BEFORE_DELETE_DAYS, VERIFY_USE_GRACE_DAYS: a year at most
MAX_RETRY_MINS = 10_080  # RETRY_AFTER_MINS: a week between destruction attempts at most
MAX_DESTROY_ATTEMPTS = 1_000  # IKR_MAX_DESTROY_ATTEMPTS, and an expiry item's `attempts`

# What `--now`, IKR_NOW and an account message's `now` may be.
EARLIEST_NOW = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_NOW = datetime(2500, 1, 1, tzinfo=UTC)
# The latest epoch second an expiry item may hold (year 3000): LATEST_NOW + MAX_DAYS + two windows +
# a retry is about year 2602, so every item ikr writes can be read back.
MAX_EPOCH = int(datetime(3000, 1, 1, tzinfo=UTC).timestamp())


def check_now(moment: datetime) -> datetime:
    """`moment` if ikr can compute with it, else ValueError saying the range."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if not EARLIEST_NOW <= aware < LATEST_NOW:
        raise ValueError(
            f"{moment.isoformat()} is outside {EARLIEST_NOW.date().isoformat()} .. {LATEST_NOW.date().isoformat()}"
        )
    return aware
