"""Reading ikr's tags: keys compared ignoring case, values checked strictly.

Every problem is a sentence that names the tag and the value, so whoever reads it can fix the tag
without reading code. The caller adds the account and user.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

from central.domain.model import Tag
from central.domain.problems import Problem

PREFIX = "IKR:"
EMAIL = "IKR:EMAIL"
ROTATE_AFTER_DAYS = "IKR:ROTATE_AFTER_DAYS"
DELETE_AFTER_DAYS = "IKR:DELETE_AFTER_DAYS"
ENABLED = "IKR:ENABLED"
DELIVERY = "IKR:DELIVERY"  # where the new key goes (central.domain.delivery)
VERIFY_USE = "IKR:VERIFY_USE"  # keep the old key until the new one is seen in use
SECRET_NAMES = "IKR:SECRET_NAMES"  # noqa: S105 - a tag key: the two names a github:/gitlab: delivery writes under (central.domain.ci_targets)
REMIND_BEFORE_DAYS = "IKR:REMIND_BEFORE_DAYS"  # days before a key is due that its user is reminded (0: never)
EXEMPT_UNTIL = "IKR:EXEMPT_UNTIL"  # YYYY-MM-DD: no rotation and no reminder through that day (UTC)
EXEMPT_REASON = "IKR:EXEMPT_REASON"  # why, in words: the report shows it beside the exemption
INSTRUCTION_PREFIX = "IKR:INSTRUCTION_"

MAX_DAYS = 36_500  # a hundred years: anything longer is a typo, not a policy
_DAYS = re.compile(r"[0-9]{1,6}", re.ASCII)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_INSTRUCTION = re.compile(r"IKR:INSTRUCTION_([0-9]{1,4})", re.ASCII | re.IGNORECASE)


class TagProblem(ValueError):
    """A tag value ikr cannot use; `key` is the tag's key as ikr reads it (upper-case)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key

    def problem(self) -> Problem:
        return Problem(key=self.key, reason=str(self))


def ikr_tags(tags: Iterable[Tag]) -> tuple[dict[str, str], list[Problem]]:
    """ikr's tags keyed by upper-case key, and a problem for each key given twice with two values."""
    found: dict[str, Tag] = {}
    problems: list[Problem] = []
    for tag in tags:
        if not tag.key.upper().startswith(PREFIX):
            continue
        key = tag.key.upper()
        earlier = found.get(key)
        if earlier is None:
            found[key] = tag
        elif earlier.value != tag.value:
            problems.append(
                Problem(
                    key=key,
                    reason=f"tags {earlier.key}={earlier.value!r} and {tag.key}={tag.value!r} are the same key "
                    "in two cases with different values",
                )
            )
    return {key: tag.value for key, tag in found.items()}, problems


def has_email_tag(tags: Iterable[Tag]) -> bool:
    return any(tag.key.upper() == EMAIL for tag in tags)


def parse_days(key: str, value: str) -> int:
    if not _DAYS.fullmatch(value):
        raise TagProblem(key, f"{key}={value!r} is not a positive whole number of days")
    days = int(value)
    if not 0 < days <= MAX_DAYS:
        raise TagProblem(key, f"{key}={value!r} must be between 1 and {MAX_DAYS} days")
    return days


def parse_reminder_days(key: str, value: str) -> int:
    """Like `parse_days`, but 0 is allowed: it turns the user's reminders off."""
    if value == "0":
        return 0
    if not _DAYS.fullmatch(value):
        raise TagProblem(key, f"{key}={value!r} is not a whole number of days (0 turns reminders off)")
    return parse_days(key, value)


def parse_date(key: str, value: str) -> date:
    """A calendar date written YYYY-MM-DD, nothing else: 01/02/2027 means two dates in two countries."""
    if not _DATE.fullmatch(value):
        raise TagProblem(key, f"{key}={value!r} is not a date written YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise TagProblem(key, f"{key}={value!r} is not a date of the calendar ({exc})") from None


def parse_bool(key: str, value: str) -> bool:
    lowered = value.lower()
    if lowered not in ("true", "false"):
        raise TagProblem(key, f"{key}={value!r} must be true or false")
    return lowered == "true"


def parse_email(key: str, value: str) -> str:
    """The address as every mail system carries it: an internationalized domain in its IDNA
    (punycode) form. A part before the @ that is not ASCII needs SMTPUTF8, which SES does not
    offer and most relays do not advertise: refused, so the user learns it before a key is made."""
    return _ascii_address(key, value)


@lru_cache(maxsize=8192)
def _ascii_address(key: str, value: str) -> str:
    """Remembered: one person's address tags their users in many accounts (and the same users come
    back every day in a warm Lambda), and validating one costs ~0.2 ms, the largest share of a
    steady-state scan's own CPU. Refusals raise and so are not remembered."""
    try:
        # strict: also the 64-character limit of the part before the @ (RFC 5321), which relays enforce
        address = validate_email(value, check_deliverability=False, strict=True)
    except EmailNotValidError as exc:
        raise TagProblem(key, f"{key}={value!r} is not one e-mail address ({exc})") from None
    if address.ascii_email is None:
        raise TagProblem(
            key,
            f"{key}={value!r}: the part before the @ is not plain ASCII, which the mail system cannot carry "
            "(only the domain may hold other letters); give an ASCII address",
        )
    return address.ascii_email


USER_KEYS = (
    EMAIL,
    ROTATE_AFTER_DAYS,
    DELETE_AFTER_DAYS,
    DELIVERY,
    VERIFY_USE,
    SECRET_NAMES,
    REMIND_BEFORE_DAYS,
    EXEMPT_UNTIL,
    EXEMPT_REASON,
)


def unknown_user_keys(tags: dict[str, str]) -> list[str]:
    """IKR: keys ikr does not read on a user: usually a typo that would silently change the policy."""
    return [
        f"{key} is not a tag ikr reads (known: {', '.join(USER_KEYS)}, {INSTRUCTION_PREFIX}<N>); it is ignored"
        for key in sorted(tags)
        if key not in USER_KEYS and not key.startswith(INSTRUCTION_PREFIX)
    ]


def instructions(tags: dict[str, str]) -> tuple[str, list[str]]:
    """IKR:INSTRUCTION_<N> values joined in numeric order, and problems with malformed keys."""
    numbered: list[tuple[int, str]] = []
    problems: list[str] = []
    for key, value in tags.items():
        if not key.startswith(INSTRUCTION_PREFIX):
            continue
        match = _INSTRUCTION.fullmatch(key)
        if match is None:
            problems.append(f"{key} is not IKR:INSTRUCTION_<number>; its text is left out")
            continue
        numbered.append((int(match.group(1)), value))
    return " ".join(value.strip() for _, value in sorted(numbered) if value.strip()), problems
