"""The kinds of event the rotator Lambda answers, told apart without loading their use cases.

- `{"ikr": "rotate", ...}` (an administrator's rotation now) or AWS Health's exposed-key event;
- `{"ikr": "restore", ...}`: `ikr restore` run through the Lambda;
- `{"ikr": "retry"}`: the retry schedule's constant input;
- anything else: the daily schedule, or the function's own continuation of a run.
"""

from __future__ import annotations

from central.domain.exposure import is_health_event

ROTATE_EVENT = "rotate"
RESTORE_EVENT = "restore"
RETRY_EVENT = "retry"


def ikr_kind(event: object) -> str | None:
    """The event's `ikr` field, when it has one."""
    kind = event.get("ikr") if isinstance(event, dict) else None
    return kind if isinstance(kind, str) else None


def is_on_demand_event(event: object) -> bool:
    return is_health_event(event) or ikr_kind(event) == ROTATE_EVENT
