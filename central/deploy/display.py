"""Lines people read while a deployment runs: planned changes, progress, failures. No AWS calls."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

_SYMBOL = {"Add": "+", "Modify": "~", "Remove": "-", "Import": ">", "Dynamic": "?"}
SUCCEEDED = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"})
ROLLED_BACK = frozenset({"ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_ROLLBACK_COMPLETE"})
# What CloudFormation says of resources it stopped because another one failed: not the cause.
_CONSEQUENTIAL = ("Resource creation cancelled", "Resource update cancelled")


def is_terminal(status: str) -> bool:
    return not status.endswith("_IN_PROGRESS")


def change_lines(changes: Iterable[Mapping[str, Any]]) -> list[str]:
    """One line per resource change of a change set: `+ Add  Name (Type)` and what forces a replacement."""
    lines = []
    for change in changes:
        resource = change.get("ResourceChange") or {}
        action = str(resource.get("Action", "?"))
        line = (
            f"  {_SYMBOL.get(action, '?')} {action:<7} {resource.get('LogicalResourceId', '?')} "
            f"({resource.get('ResourceType', '?')})"
        )
        replacement = resource.get("Replacement")
        if action == "Modify" and replacement in ("True", "Conditional"):
            line += f"  REPLACEMENT {replacement.lower()}"
        scopes = resource.get("Scope") or []
        if scopes:
            line += f"  [{', '.join(scopes)}]"
        lines.append(line)
    return lines or ["  (no resource changes)"]


def event_line(event: Mapping[str, Any]) -> str:
    stamp = event.get("Timestamp")
    when = stamp.strftime("%H:%M:%S") if isinstance(stamp, datetime) else "--:--:--"
    line = (
        f"{when} {event.get('ResourceStatus', '?'):<28} {event.get('LogicalResourceId', '?')} "
        f"({event.get('ResourceType', '?')})"
    )
    reason = event.get("ResourceStatusReason")
    return f"{line}: {reason}" if reason else line


def failure_lines(events: Iterable[Mapping[str, Any]]) -> list[str]:
    """The resources that failed and why, first failure first, leaving out the ones merely cancelled."""
    found = []
    for event in events:
        status = str(event.get("ResourceStatus", ""))
        reason = str(event.get("ResourceStatusReason") or "")
        if status.endswith("_FAILED") and not reason.startswith(_CONSEQUENTIAL):
            found.append(
                f"  {event.get('LogicalResourceId', '?')} ({event.get('ResourceType', '?')}) {status}: "
                f"{reason or 'no reason given'}"
            )
    return found


def output_lines(outputs: Mapping[str, str]) -> list[str]:
    width = max((len(key) for key in outputs), default=0)
    return [f"  {key:<{width}}  {value}" for key, value in sorted(outputs.items())]
