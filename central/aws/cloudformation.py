"""CloudFormation for `ikr deploy`: the central stack through change sets, the member-role StackSet.

Thin: one method per call the deployers make, each through `aws_call` so a failure is an `AwsError`
naming the stack, change set or StackSet. The two "is it there?" answers, which CloudFormation gives
as errors, are answered here: `stack` is None for a stack that does not exist, `stack_set_exists`
False for a StackSet that does not. The client is any object with the CloudFormation client's
methods (there are no type stubs for it here; tests script one).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from central.aws.errors import AwsError, AwsNotFound, aws_call


class CloudFormation:
    def __init__(self, cf: Any) -> None:
        self._cf = cf

    # -- stacks --------------------------------------------------------------------------------
    def stack(self, name: str) -> dict[str, Any] | None:
        """The stack as DescribeStacks gives it; None when there is no such stack."""
        try:
            with aws_call("cloudformation:DescribeStacks", f"stack {name}"):
                stacks = self._cf.describe_stacks(StackName=name)["Stacks"]
        except AwsError as exc:
            if "does not exist" in exc.reason:  # CloudFormation's only word for a missing stack (a ValidationError)
                return None
            raise
        return dict(stacks[0]) if stacks else None

    def create_change_set(self, name: str, change_set: str, **request: Any) -> str:
        """A change set for stack `name`; its id."""
        with aws_call("cloudformation:CreateChangeSet", f"change set {change_set} of stack {name}"):
            return str(self._cf.create_change_set(StackName=name, ChangeSetName=change_set, **request)["Id"])

    def change_set(self, change_set_id: str, token: str | None = None) -> dict[str, Any]:
        """One page of DescribeChangeSet (status, reason, changes, NextToken)."""
        paging = {"NextToken": token} if token else {}
        with aws_call("cloudformation:DescribeChangeSet", f"change set {change_set_id}"):
            return dict(self._cf.describe_change_set(ChangeSetName=change_set_id, **paging))

    def execute_change_set(self, change_set_id: str) -> None:
        with aws_call("cloudformation:ExecuteChangeSet", f"change set {change_set_id}"):
            self._cf.execute_change_set(ChangeSetName=change_set_id)

    def delete_change_set(self, change_set_id: str) -> None:
        with aws_call("cloudformation:DeleteChangeSet", f"change set {change_set_id}"):
            self._cf.delete_change_set(ChangeSetName=change_set_id)

    def delete_stack(self, name: str) -> None:
        with aws_call("cloudformation:DeleteStack", f"stack {name}"):
            self._cf.delete_stack(StackName=name)

    def stack_events(self, name: str) -> list[dict[str, Any]]:
        """The stack's events, newest first, as CloudFormation gives them (the first page)."""
        with aws_call("cloudformation:DescribeStackEvents", f"stack {name}"):
            return [dict(event) for event in self._cf.describe_stack_events(StackName=name).get("StackEvents", [])]

    def stack_resources(self, name: str) -> dict[str, str]:
        """Logical id → physical id of every resource of the stack."""
        with aws_call("cloudformation:ListStackResources", f"stack {name}"):
            return {
                str(summary["LogicalResourceId"]): str(summary.get("PhysicalResourceId", ""))
                for page in self._cf.get_paginator("list_stack_resources").paginate(StackName=name)
                for summary in page["StackResourceSummaries"]
            }

    # -- StackSets -----------------------------------------------------------------------------
    def organizations_access(self, call_as: str) -> str:
        """Whether trusted access between StackSets and Organizations is on: ENABLED, DISABLED or
        DISABLED_PERMANENTLY (DescribeOrganizationsAccess; the management account calls it as SELF,
        a delegated administrator as DELEGATED_ADMIN)."""
        with aws_call(
            "cloudformation:DescribeOrganizationsAccess",
            f"StackSets' trusted access to the Organization (as {call_as})",
        ):
            return str(self._cf.describe_organizations_access(CallAs=call_as)["Status"])

    def stack_set_exists(self, name: str, call_as: str) -> bool:
        try:
            with aws_call("cloudformation:DescribeStackSet", f"StackSet {name}"):
                self._cf.describe_stack_set(StackSetName=name, CallAs=call_as)
        except AwsNotFound:
            return False
        return True

    def stack_set_parameters(self, name: str, call_as: str) -> dict[str, str] | None:
        """The StackSet's parameters (key → value); None for a StackSet that does not exist."""
        try:
            with aws_call("cloudformation:DescribeStackSet", f"StackSet {name}"):
                described = self._cf.describe_stack_set(StackSetName=name, CallAs=call_as)["StackSet"]
        except AwsNotFound:
            return None
        return {str(p["ParameterKey"]): str(p.get("ParameterValue", "")) for p in described.get("Parameters") or []}

    def create_stack_set(self, name: str, **request: Any) -> None:
        with aws_call("cloudformation:CreateStackSet", f"StackSet {name}"):
            self._cf.create_stack_set(StackSetName=name, **request)

    def update_stack_set(self, name: str, **request: Any) -> str:
        """The update's operation id."""
        with aws_call("cloudformation:UpdateStackSet", f"StackSet {name}"):
            return str(self._cf.update_stack_set(StackSetName=name, **request)["OperationId"])

    def create_stack_instances(
        self,
        name: str,
        organizational_units: Sequence[str],
        regions: Sequence[str],
        preferences: Mapping[str, Any],
        call_as: str,
    ) -> str:
        """Instances in every account of the OUs; the operation id."""
        with aws_call("cloudformation:CreateStackInstances", f"StackSet {name} in {', '.join(organizational_units)}"):
            return str(
                self._cf.create_stack_instances(
                    StackSetName=name,
                    DeploymentTargets={"OrganizationalUnitIds": list(organizational_units)},
                    Regions=list(regions),
                    OperationPreferences=dict(preferences),
                    CallAs=call_as,
                )["OperationId"]
            )

    def stack_set_operation(self, name: str, operation_id: str, call_as: str) -> dict[str, Any]:
        with aws_call("cloudformation:DescribeStackSetOperation", f"StackSet {name} operation {operation_id}"):
            return dict(
                self._cf.describe_stack_set_operation(StackSetName=name, OperationId=operation_id, CallAs=call_as)[
                    "StackSetOperation"
                ]
            )

    def stack_instances(self, name: str, call_as: str) -> list[dict[str, Any]]:
        with aws_call("cloudformation:ListStackInstances", f"StackSet {name}"):
            return [
                dict(s) for s in self._cf.list_stack_instances(StackSetName=name, CallAs=call_as).get("Summaries", [])
            ]

    def operation_results(self, name: str, operation_id: str, call_as: str) -> list[dict[str, Any]]:
        with aws_call("cloudformation:ListStackSetOperationResults", f"StackSet {name} operation {operation_id}"):
            return [
                dict(result)
                for result in self._cf.list_stack_set_operation_results(
                    StackSetName=name, OperationId=operation_id, CallAs=call_as
                ).get("Summaries", [])
            ]
