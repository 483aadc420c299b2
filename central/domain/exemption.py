"""Exemptions with an end: `IKR:EXEMPT_UNTIL=<YYYY-MM-DD>` (and `IKR:EXEMPT_REASON`) on a user.

The date is the last day of the exemption, inclusive, in UTC: `IKR:EXEMPT_UNTIL=2027-03-31` skips the
user through 31 March and the first run on 1 April (00:00 UTC) rotates it again if its key is due. A
date already past exempts nothing: the exemption has lapsed, and the report says so. Pure: no clock
read here, the caller gives `now`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from central.domain import tags as t
from central.domain.model import Frozen

LONG_EXEMPTION_DAYS = 90  # an exemption ending further away than this is worth a second look
LATEST_YEAR = 2999  # the bounds of every instant ikr keeps (central.domain.bounds): a later date is a typo


class Exemption(Frozen):
    until: date  # the last day exempt (UTC), inclusive
    reason: str = ""  # IKR:EXEMPT_REASON, stripped; "" when the user has none

    @property
    def ends_at(self) -> datetime:
        """The first instant the user is no longer exempt: midnight UTC after `until`."""
        return datetime.combine(self.until + timedelta(days=1), time(), tzinfo=UTC)

    def active(self, now: datetime) -> bool:
        return now < self.ends_at

    def describe(self) -> str:
        why = self.reason or "no reason given"
        return f"exempt through {self.until:%Y-%m-%d} ({t.EXEMPT_UNTIL}): {why}"

    def warnings(self, now: datetime) -> tuple[str, ...]:
        """What the report warns of: a lapsed exemption, one with no reason, one running long."""
        if not self.active(now):
            return (f"exemption lapsed: {t.EXEMPT_UNTIL}={self.until:%Y-%m-%d} is past; the user is rotated as usual",)
        found: list[str] = []
        if not self.reason:
            found.append(f"exemption through {self.until:%Y-%m-%d} has no reason: set {t.EXEMPT_REASON}")
        days = (self.ends_at - now).days
        if days > LONG_EXEMPTION_DAYS:
            found.append(
                f"exemption through {self.until:%Y-%m-%d} runs {days} more days, longer than {LONG_EXEMPTION_DAYS}"
            )
        return tuple(found)


def read_exemption(values: dict[str, str]) -> Exemption | None:
    """The user's exemption from its IKR: tags (keys upper-case), None without IKR:EXEMPT_UNTIL.

    Raises `TagProblem` naming the tag and the value when the date is not a date ikr can use."""
    if t.EXEMPT_UNTIL not in values:
        return None
    value = values[t.EXEMPT_UNTIL]  # strictly, as every tag value: " 2027-03-31" is refused, not guessed
    until = t.parse_date(t.EXEMPT_UNTIL, value)
    if until.year > LATEST_YEAR:
        raise t.TagProblem(t.EXEMPT_UNTIL, f"{t.EXEMPT_UNTIL}={value!r} lies beyond the year {LATEST_YEAR}")
    return Exemption(until=until, reason=values.get(t.EXEMPT_REASON, "").strip())
