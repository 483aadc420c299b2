"""A rotation asked for regardless of age: `ikr rotate --now-due`, the rotator's `{"ikr": "rotate"}`
event, an exposed key. Pure: the scheduled decision in, the on-demand decision (or why not) out.

The age check is the only thing replaced ("due on demand"): a user the schedule would skip for any
other reason (two keys, no key, an inactive only key, a bad tag, an old key still pending deletion)
is refused with that reason, so an on-demand rotation never does what a scheduled one would not.
An exemption (`IKR:EXEMPT_UNTIL`) only holds the schedule back: a rotation asked for by name, or an
exposed key, goes ahead, and its reason says the exemption was set aside.
"""

from __future__ import annotations

from central.domain.policy import Action, Decision
from central.domain.scope import Days
from central.domain.sources import Source

MAX_REASON = 200  # it is written to the journal, the report and every notice: a sentence, not a file
EXPOSED = "exposed"  # the reason of the rotation of a key AWS reported exposed


def check_reason(reason: str) -> str:
    """The reason as recorded; ValueError when it is empty, too long or not one printable line."""
    text = reason.strip()
    if not text:
        raise ValueError("--reason is empty: say why the key is rotated now (it is recorded and reported)")
    if len(text) > MAX_REASON:
        raise ValueError(f"--reason is {len(text)} characters long; at most {MAX_REASON}")
    if not text.isprintable():
        raise ValueError("--reason must be one line of printable text")
    return text


def due_on_demand(decision: Decision, reason: str, delete_after: Days | None = None) -> Decision | str:
    """The decision to rotate now, or the reason it is refused (the user's own words for it).

    `delete_after` replaces the user's days (an exposed key's EXPOSED_DELETE_AFTER_DAYS)."""
    if decision.problems:
        return f"not rotated: {decision.reason}"
    if decision.action is Action.PENDING:
        return f"not rotated: already {decision.reason}"
    if decision.action not in (Action.ROTATE, Action.NOT_DUE) and not decision.exempt:
        return f"not rotated: {decision.reason}"
    scheduled, set_aside = decision.reason, ""
    if decision.exempt and decision.exemption is not None:
        exemption = decision.exemption.describe()
        scheduled, set_aside = scheduled.removeprefix(f"{exemption}; "), f"; {exemption}, set aside"
    # "key AKIA... is 12 days old": the age stays in the row, the schedule's verdict does not.
    age = scheduled.split("; ")[0]
    update: dict[str, object] = {
        "action": Action.ROTATE,
        "exempt": False,
        "on_demand": reason,
        "reason": f"due on demand ({reason}); {age}{set_aside}",
    }
    if delete_after is not None:
        update["delete_after"] = delete_after
    return decision.model_copy(update=update)


def exposed_days(days: int) -> Days:
    return Days(days=days, source=Source.setting("EXPOSED_DELETE_AFTER_DAYS"))
