"""What `ikr deploy` reads of a stack already deployed: the central stack's outputs that the member
role's StackSet needs (read from its resources and parameters where an emulator leaves the outputs
out), and a stack's parameters as deployed (kept when the operator does not give them again)."""

from __future__ import annotations

from central.aws.cloudformation import CloudFormation
from central.domain.errors import UsageError

# The outputs of the central stack that the member role needs, by StackSet parameter.
_MEMBER_PARAMETERS_FROM_OUTPUTS = {
    "RoleName": "MemberRoleName",
    "OrganizationId": "OrganizationId",
    "RotatorRoleArn": "RotatorRoleArn",
    "AccountWorkerRoleArn": "AccountWorkerRoleArn",
    "DestructorRoleArn": "DestructorRoleArn",
    "ReporterRoleArn": "ReporterRoleArn",
    "ExternalId": "ExternalId",
    "DeliveryPrefix": "DeliveryPrefix",
}


# Outputs the StackSet needs, and where they come from when a stack has no outputs (see central_values).
_FROM_RESOURCES = {
    "RotatorRoleArn": "RotatorRole",
    "AccountWorkerRoleArn": "AccountWorkerRole",
    "DestructorRoleArn": "DestructorRole",
    "ReporterRoleArn": "ReporterRole",
}
_FROM_PARAMETERS = {
    "MemberRoleName": "IkrMemberRoleName",
    "ExternalId": "IkrExternalId",
    "OrganizationId": "OrganizationId",
    "DeliveryPrefix": "DeliveryPrefix",
}


def central_values(cf: CloudFormation, name: str) -> dict[str, str]:
    """The central stack's outputs. moto 5.2 keeps the outputs of a stack made through a change set
    from the empty template it started with (none): the values the StackSet needs are then read from
    the stack's resources and parameters instead, which is what the outputs say on AWS."""
    current = cf.stack(name) or {}
    if current.get("StackStatus") in ("DELETE_COMPLETE", "REVIEW_IN_PROGRESS"):
        return {}
    values = {str(o["OutputKey"]): str(o.get("OutputValue", "")) for o in current.get("Outputs") or []}
    if not current or all(key in values for key in _MEMBER_PARAMETERS_FROM_OUTPUTS.values()):
        return values
    partition, account = str(current["StackId"]).split(":")[1], str(current["StackId"]).split(":")[4]
    roles = cf.stack_resources(name)
    for output, logical in _FROM_RESOURCES.items():
        values.setdefault(output, f"arn:{partition}:iam::{account}:role/{roles[logical]}")
    parameters = {str(p["ParameterKey"]): str(p.get("ParameterValue", "")) for p in current.get("Parameters") or []}
    for output, parameter in _FROM_PARAMETERS.items():
        values.setdefault(output, parameters.get(parameter, ""))
    return values


def member_parameters(outputs: dict[str, str]) -> dict[str, str]:
    missing = [output for output in _MEMBER_PARAMETERS_FROM_OUTPUTS.values() if output not in outputs]
    if missing:
        raise UsageError(f"the central stack has no output {', '.join(missing)}: deploy the current template first")
    return {key: outputs[output] for key, output in _MEMBER_PARAMETERS_FROM_OUTPUTS.items()}


def previous_parameters(cf: CloudFormation, name: str) -> dict[str, str] | None:
    """The parameters of the stack as deployed; None when it is yet to be created."""
    current = cf.stack(name)
    if current is None or current["StackStatus"] == "REVIEW_IN_PROGRESS":
        return None
    return {str(p["ParameterKey"]): str(p.get("ParameterValue", "")) for p in current.get("Parameters") or []}
