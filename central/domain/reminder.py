"""When a user is reminded that its key will be rotated: the window before the due date.

REMIND_BEFORE_DAYS (the setting; `IKR:REMIND_BEFORE_DAYS` on a user overrides it; 0 turns reminders
off) days before a key is due, its user is reminded once. The window is [due - days, due): from then
until the key is due; once due, the rotation itself tells the user. Pure: the caller gives `now`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from central.domain.policy import Action, Decision


def remind_days(decision: Decision, default_days: int) -> int:
    """The user's tag if it has one, else the setting."""
    return default_days if decision.remind_before is None else decision.remind_before


def remind_from(due_at: datetime, days: int) -> datetime:
    return due_at - timedelta(days=days)


def in_window(decision: Decision, now: datetime, default_days: int) -> bool:
    """Whether the decision's key is within its reminder window now: not due yet, not exempt, and
    reminders not turned off for the user."""
    days = remind_days(decision, default_days)
    if days <= 0 or decision.action is not Action.NOT_DUE or decision.due_at is None:
        return False
    return remind_from(decision.due_at, days) <= now < decision.due_at
