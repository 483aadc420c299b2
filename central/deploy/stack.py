"""Create or update one CloudFormation stack through a change set, showing it first and the progress after.

The CloudFormation adapter is passed in; `sleep` and `clock` too, so tests run without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from central.aws.cloudformation import CloudFormation
from central.deploy import display
from central.domain.errors import IkrError

Printer = Callable[[str], None]
_NO_CHANGES = ("didn't contain changes", "No updates are to be performed")


class DeployFailed(IkrError):
    """CloudFormation could not make the stack (or StackSet) what the template says."""


@dataclass
class StackResult:
    name: str
    action: str  # CREATE, UPDATE, NONE (nothing to change) or DRY-RUN
    outputs: dict[str, str] = field(default_factory=dict)


def stack_parameters(
    template_parameters: Mapping[str, Any], given: Mapping[str, str], previous: Mapping[str, str] | None
) -> list[dict[str, Any]]:
    """Given values win; on an update, every other parameter the stack already has keeps its value,
    so an upgrade needs nothing but the new artifact. Unknown names were refused before."""
    chosen: list[dict[str, Any]] = []
    for key in template_parameters:
        if key in given:
            chosen.append({"ParameterKey": key, "ParameterValue": given[key]})
        elif previous is not None and key in previous:
            chosen.append({"ParameterKey": key, "UsePreviousValue": True})
    return chosen


def missing_required(template_parameters: Mapping[str, Any], chosen: list[dict[str, Any]], creating: bool) -> list[str]:
    named = {parameter["ParameterKey"] for parameter in chosen}
    return [
        key
        for key, spec in template_parameters.items()
        if creating and "Default" not in (spec or {}) and key not in named
    ]


class StackDeployer:
    def __init__(
        self,
        cf: CloudFormation,
        out: Printer,
        poll_seconds: float = 5.0,
        timeout_seconds: float = 3600.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cf = cf
        self._out = out
        self._poll = poll_seconds
        self._timeout = timeout_seconds
        self._sleep = sleep
        self._clock = clock

    def deploy(
        self,
        name: str,
        template: Mapping[str, str],
        parameters: list[dict[str, Any]],
        capabilities: list[str],
        dry_run: bool,
    ) -> StackResult:
        """`template` is {"TemplateURL": ...} or {"TemplateBody": ...}."""
        current = self._cf.stack(name)
        status = str(current["StackStatus"]) if current else None
        if status == "ROLLBACK_COMPLETE":
            raise DeployFailed(
                f"stack {name} is ROLLBACK_COMPLETE (its creation failed and nothing is left to update): "
                f"delete it (aws cloudformation delete-stack --stack-name {name}) and deploy again"
            )
        if status is not None and not display.is_terminal(status):
            raise DeployFailed(f"stack {name} is busy ({status}); wait for it to finish and deploy again")
        kind = "CREATE" if status in (None, "REVIEW_IN_PROGRESS") else "UPDATE"
        change_set = f"ikr-{datetime.now(UTC):%Y%m%d%H%M%S}"
        created = self._cf.create_change_set(
            name,
            change_set,
            ChangeSetType=kind,
            Parameters=parameters,
            Capabilities=capabilities,
            Description="ikr deploy",
            **template,
        )
        described = self._wait_for_change_set(created)
        reason = str(described.get("StatusReason", ""))
        if described["Status"] == "FAILED" and not any(text in reason for text in _NO_CHANGES):
            raise DeployFailed(f"change set for stack {name} failed: {reason}")
        changes = [] if described["Status"] == "FAILED" else self._changes(created, described)
        if kind == "UPDATE" and not changes:
            # AWS fails a change set without changes; moto makes an empty one. Either way: nothing to do.
            self._out(f"stack {name}: no changes")
            self._cf.delete_change_set(created)
            return StackResult(name, "NONE", self.outputs(name))
        self._out(f"stack {name}: change set {change_set} ({kind}):")
        for line in display.change_lines(changes):
            self._out(line)
        if dry_run:
            self._cf.delete_change_set(created)
            if kind == "CREATE":  # the empty REVIEW_IN_PROGRESS stack the change set made
                self._cf.delete_stack(name)
            self._out(f"stack {name}: dry run, nothing executed")
            return StackResult(name, "DRY-RUN")
        before = {event["EventId"] for event in self._cf.stack_events(name)}
        self._cf.execute_change_set(created)
        final = self._wait_for_stack(name, set(before))
        if final not in display.SUCCEEDED:
            failures = display.failure_lines(
                reversed([event for event in self._cf.stack_events(name) if event["EventId"] not in before])
            )
            detail = "\n".join(failures) if failures else "  (CloudFormation gave no failing resource)"
            raise DeployFailed(f"stack {name} ended {final}; failing resources:\n{detail}")
        outputs = self.outputs(name)
        self._out(f"stack {name}: {final}; outputs:")
        for line in display.output_lines(outputs) or ["  (none)"]:
            self._out(line)
        return StackResult(name, kind, outputs)

    def outputs(self, name: str) -> dict[str, str]:
        current = self._cf.stack(name) or {}
        return {str(o["OutputKey"]): str(o.get("OutputValue", "")) for o in current.get("Outputs") or []}

    def _changes(self, change_set_id: str, first: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        changes = list(first.get("Changes") or [])
        token = first.get("NextToken")
        while token:
            page = self._cf.change_set(change_set_id, token)
            changes.extend(page.get("Changes") or [])
            token = page.get("NextToken")
        return changes

    def _wait_for_change_set(self, change_set_id: str) -> dict[str, Any]:
        deadline = self._clock() + self._timeout
        while True:
            described = self._cf.change_set(change_set_id)
            if described["Status"] in ("CREATE_COMPLETE", "FAILED"):
                return described
            if self._clock() > deadline:
                raise DeployFailed(f"change set {change_set_id} still {described['Status']} after {self._timeout:.0f}s")
            self._sleep(self._poll)

    def _wait_for_stack(self, name: str, seen: set[str]) -> str:
        deadline = self._clock() + self._timeout
        while True:
            fresh = [event for event in self._cf.stack_events(name) if event["EventId"] not in seen]  # first page
            for event in reversed(fresh):
                seen.add(event["EventId"])
                self._out("  " + display.event_line(event))
            current = self._cf.stack(name)
            status = str(current["StackStatus"]) if current else "DELETE_COMPLETE"
            if display.is_terminal(status):
                return status
            if self._clock() > deadline:
                raise DeployFailed(f"stack {name} still {status} after {self._timeout:.0f}s; see its events")
            self._sleep(self._poll)
