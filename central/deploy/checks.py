"""What `ikr deploy` checks in the account before it touches anything, and says in words.

- Lambda concurrency (lambda:GetAccountSettings): what the quota allows. The central stack reserves
  nothing by default; with `ReserveConcurrency=true` a reservation that would leave AWS fewer than its
  100 unreserved executions is refused here, before CloudFormation fails the stack half-way.
- Trusted access between StackSets and Organizations (cloudformation:DescribeOrganizationsAccess): off,
  the StackSet cannot be made; the exact command that turns it on is printed.

A check whose call fails (no permission, an emulator without the operation) says it could not check
and lets the deploy go on: CloudFormation will refuse what does not fit, with its own reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from central.aws.cloudformation import CloudFormation
from central.aws.errors import AwsError
from central.aws.lambda_account import UNRESERVED_MINIMUM, Concurrency, LambdaAccount
from central.deploy import template as templates
from central.domain.errors import UsageError

Printer = Callable[[str], None]
RESERVE_PARAMETER = "ReserveConcurrency"
_QUOTA_HINT = "Service Quotas: AWS Lambda, Concurrent executions (L-B99A9384)"
ACTIVATE_COMMAND = "aws cloudformation activate-organizations-access"


class DeployRefused(UsageError):
    """The account cannot take what the deploy would make; nothing was touched (exit 2)."""


def reservations(template: Mapping[str, Any], value_of: Callable[[str], str]) -> dict[str, int]:
    """Each function's reserved concurrency when `ReserveConcurrency` is true: the first branch of its
    `ReservedConcurrentExecutions: !If [...]` (a number, or a parameter's value by `value_of`)."""
    found: dict[str, int] = {}
    for name, body in templates.resources_of_type(dict(template), "AWS::Lambda::Function").items():
        reserved = body["Properties"].get("ReservedConcurrentExecutions")
        if isinstance(reserved, Mapping) and "Fn::If" in reserved:
            reserved = reserved["Fn::If"][1]
        if isinstance(reserved, Mapping) and "Ref" in reserved:
            reserved = value_of(str(reserved["Ref"]))
        if reserved is not None:
            found[name] = int(reserved)
    return found


def concurrency_lines(
    concurrency: Concurrency, reserve: bool, wanted: Mapping[str, int], held: int, worker_cap: int
) -> list[str]:
    """What the quota allows, in lines; DeployRefused when the reservations asked for do not fit.
    `held`: what ikr's functions reserve already (an update of a stack that reserves)."""
    head = (
        f"lambda concurrency: quota {concurrency.limit}, {concurrency.unreserved} unreserved "
        f"(AWS keeps {UNRESERVED_MINIMUM} unreserved)"
    )
    if not reserve:
        lines = [
            f"{head}; ikr reserves none ({RESERVE_PARAMETER}=false): the account worker runs at most "
            f"{worker_cap} at once (its queue's MaximumConcurrency), the other functions one each"
        ]
        if concurrency.limit <= UNRESERVED_MINIMUM:  # a new account's quota: 10 is usual
            lines.append(
                f"  note: a quota of {concurrency.limit} is shared with every other function of the account, and "
                f"ikr may use {worker_cap + 3} at once; Lambda throttles what does not fit (the queue and the "
                f"stream keep their messages, a schedule retries): raise it with {_QUOTA_HINT}"
            )
        return lines
    total = sum(wanted.values())
    free = concurrency.reservable + held
    detail = ", ".join(f"{name} {count}" for name, count in sorted(wanted.items()))
    if total > free:
        raise DeployRefused(
            f"{RESERVE_PARAMETER}=true reserves {total} concurrent executions ({detail}), but the account's "
            f"quota of {concurrency.limit} with {concurrency.unreserved} unreserved"
            f"{f' (+{held} ikr holds already)' if held else ''} leaves {free} to reserve: AWS keeps "
            f"{UNRESERVED_MINIMUM} unreserved. Deploy with {RESERVE_PARAMETER}=false (the default: the account "
            f"worker is capped by its queue instead) or raise the quota ({_QUOTA_HINT})"
        )
    return [f"{head}; {RESERVE_PARAMETER}=true reserves {total} ({detail}) of {free} reservable"]


def check_concurrency(
    lam: LambdaAccount, reserve: bool, wanted: Mapping[str, int], held: int, worker_cap: int, out: Printer
) -> None:
    try:
        concurrency = lam.concurrency()
    except AwsError as exc:
        out(f"lambda concurrency: not checked ({exc}); CloudFormation refuses a reservation that does not fit")
        return
    for line in concurrency_lines(concurrency, reserve, wanted, held, worker_cap):
        out(line)


def trusted_access_lines(status: str, call_as: str) -> list[str]:
    """The line for DescribeOrganizationsAccess's answer; DeployRefused when trusted access is off."""
    check = "aws cloudformation describe-organizations-access" + (
        " --call-as DELEGATED_ADMIN" if call_as == "DELEGATED_ADMIN" else ""
    )
    if status == "ENABLED":
        return ["trusted access for StackSets: on"]
    if status == "DISABLED":
        raise DeployRefused(
            "trusted access between CloudFormation StackSets and Organizations is off, so the member-role "
            f"StackSet cannot be made. Turn it on once, with the management account's credentials:\n"
            f"  {ACTIVATE_COMMAND}\n"
            f"check it with `{check}` (it answers ENABLED), or deploy the central stack alone with --no-stackset"
        )
    raise DeployRefused(
        f"trusted access between CloudFormation StackSets and Organizations is {status}: service-managed "
        f"StackSets cannot deploy the member role here (`{check}`); deploy the central stack alone with "
        "--no-stackset and the member role as a stack in each account"
    )


def check_trusted_access(cf: CloudFormation, call_as: str, out: Printer) -> None:
    try:
        status = cf.organizations_access(call_as)
    except AwsError as exc:
        out(
            f"trusted access for StackSets: not checked ({exc}); if the StackSet fails, run "
            f"`{ACTIVATE_COMMAND}` with the management account's credentials"
        )
        return
    for line in trusted_access_lines(status, call_as):
        out(line)
