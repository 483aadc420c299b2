"""Create or update the member-role StackSet and its instances in the target OUs, and wait for it.

Its settings (service-managed permissions, auto-deployment, operation preferences, capabilities)
come from stacksets/member-stackset.yaml, so `ikr deploy` and a CloudFormation deployment of that
template make the same StackSet.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from central.aws.cloudformation import CloudFormation
from central.deploy.stack import DeployFailed, Printer

_DONE = frozenset({"SUCCEEDED", "FAILED", "STOPPED"})


def api_settings(properties: Mapping[str, Any]) -> dict[str, Any]:
    """The StackSet template's properties that CreateStackSet / UpdateStackSet take as they are."""
    settings = {
        key: properties[key]
        for key in ("PermissionModel", "AutoDeployment", "Capabilities", "ManagedExecution")
        if key in properties
    }
    if settings.get("PermissionModel") != "SERVICE_MANAGED" or not settings.get("AutoDeployment", {}).get("Enabled"):
        raise DeployFailed("the member StackSet must be SERVICE_MANAGED with AutoDeployment enabled")
    return settings


class StackSetDeployer:
    def __init__(
        self,
        cf: CloudFormation,
        out: Printer,
        call_as: str,
        poll_seconds: float = 10.0,
        timeout_seconds: float = 3600.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cf = cf
        self._out = out
        self._call_as = call_as
        self._poll = poll_seconds
        self._timeout = timeout_seconds
        self._sleep = sleep
        self._clock = clock

    def exists(self, name: str) -> bool:
        return self._cf.stack_set_exists(name, self._call_as)

    def deploy(
        self,
        name: str,
        template_body: str,
        parameters: Mapping[str, str],
        properties: Mapping[str, Any],
        organizational_units: Sequence[str],
        regions: Sequence[str],
        dry_run: bool,
        holds: str = "member role",
    ) -> None:
        """Create or update StackSet `name` and its instances in `regions` of every account of the OUs;
        `holds` names what an instance is, for the closing line ("member role in 3 account(s)")."""
        settings = api_settings(properties)
        preferences = dict(properties.get("OperationPreferences") or {})
        stack_parameters = [{"ParameterKey": key, "ParameterValue": value} for key, value in parameters.items()]
        exists = self.exists(name)
        plan = "update" if exists else "create"
        self._out(
            f"stackset {name}: {plan} ({settings['PermissionModel']}, auto-deployment on, as {self._call_as}); "
            f"instances in {', '.join(organizational_units)} / {', '.join(regions)}; "
            f"failure tolerance {preferences.get('FailureTolerancePercentage', 0)}%, "
            f"concurrency {preferences.get('MaxConcurrentPercentage', '?')}%"
        )
        if dry_run:
            self._out(f"stackset {name}: dry run, nothing changed")
            return
        common = {
            "Description": str(properties.get("Description", "ikr member role")),
            "TemplateBody": template_body,
            "Parameters": stack_parameters,
            "CallAs": self._call_as,
            **settings,
        }
        if exists:
            operation = self._cf.update_stack_set(name, **common, OperationPreferences=preferences)
            self._wait(name, operation, "update")
        else:
            self._cf.create_stack_set(name, **common)
        operation = self._cf.create_stack_instances(
            name, organizational_units, list(regions), preferences, self._call_as
        )
        self._wait(name, operation, "instances")
        instances = self._cf.stack_instances(name, self._call_as)
        accounts = sorted({str(instance["Account"]) for instance in instances})
        self._out(f"stackset {name}: {holds} in {len(accounts)} account(s): {', '.join(accounts) or '-'}")

    def _wait(self, name: str, operation_id: str, what: str) -> None:
        deadline = self._clock() + self._timeout
        last = ""
        while True:
            operation = self._cf.stack_set_operation(name, operation_id, self._call_as)
            status = str(operation["Status"])
            if status != last:
                self._out(f"  stackset {name} {what} operation {operation_id}: {status}")
                last = status
            if status in _DONE:
                break
            if self._clock() > deadline:
                raise DeployFailed(
                    f"stackset {name} operation {operation_id} still {status} after {self._timeout:.0f}s"
                )
            self._sleep(self._poll)
        if status != "SUCCEEDED":
            raise DeployFailed(
                f"stackset {name} {what} operation {status}:\n" + "\n".join(self._failures(name, operation_id))
            )

    def _failures(self, name: str, operation_id: str) -> list[str]:
        results = self._cf.operation_results(name, operation_id, self._call_as)
        lines = [
            f"  account {result.get('Account', '?')} {result.get('Region', '?')}: {result.get('Status', '?')}: "
            f"{result.get('StatusReason', 'no reason given')}"
            for result in results
            if result.get("Status") != "SUCCEEDED"
        ]
        return lines or ["  (CloudFormation gave no failing account)"]
