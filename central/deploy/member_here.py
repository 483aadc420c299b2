"""`ikr deploy --management-account`: the member role in the Organization's management account, as a
plain stack of member-role/template.yaml.

Service-managed StackSets never deploy to the management account, so without this its IAM users are
never worked. It runs with the management account's own credentials. The role's parameters (which
central roles it trusts, the Organization, the ExternalId) are the member StackSet's, read from it
(the management account sees the StackSets of its delegated administrators); `--parameter` gives or
overrides them.
"""

from __future__ import annotations

from collections.abc import Mapping

from central.aws.cloudformation import CloudFormation
from central.aws.deploy_target import DeployTarget
from central.deploy import template
from central.deploy.stack import Printer, StackDeployer, missing_required, stack_parameters
from central.domain.errors import UsageError


def deploy_member_role_here(
    target: DeployTarget,
    cf: CloudFormation,
    given: Mapping[str, str],
    *,
    central_stack: str,
    member_stack: str,
    previous: Mapping[str, str] | None,
    dry_run: bool,
    out: Printer = print,
) -> int:
    organization = target.organization
    me = target.caller.account_id
    if organization is None:
        raise UsageError(
            f"--management-account: account {me} is in no Organization; `ikr deploy` without it deploys "
            "everything a standalone account needs"
        )
    if me != organization.management_account_id:
        raise UsageError(
            f"--management-account deploys into the management account {organization.management_account_id}, "
            f"but these credentials are account {me}'s: run it with the management account's credentials"
        )
    if cf.stack(central_stack) is not None:
        raise UsageError(
            f"the central stack {central_stack} is in this management account: ikr works its users with its "
            "own credentials, not through a member role; deploy the central stack with "
            "--parameter ManageCentralAccount=true instead"
        )
    member = template.load(template.MEMBER_TEMPLATE)
    known = template.parameters(member)
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise UsageError(f"not parameters of the member role: {', '.join(unknown)} (it takes {', '.join(known)})")
    stackset = str(template.parameters(template.load(template.STACKSET_TEMPLATE))["StackSetName"]["Default"])
    from_stackset = cf.stack_set_parameters(stackset, "SELF") or {}
    if from_stackset:
        out(f"member role parameters from StackSet {stackset}")
    values = {key: value for key, value in from_stackset.items() if key in known} | dict(given)
    chosen = stack_parameters(known, values, previous)
    missing = missing_required(known, chosen, creating=previous is None)
    if missing:
        raise UsageError(
            f"the member role needs {', '.join(missing)}, and no StackSet {stackset} visible from this account "
            "holds them: deploy the central stack first, or give them with --parameter KEY=VALUE (the central "
            "stack's outputs: RoleName is its MemberRoleName, the others have the same names)"
        )
    # The role has a name of its own (RoleName): CAPABILITY_NAMED_IAM.
    body = {"TemplateBody": template.MEMBER_TEMPLATE.read_text(encoding="utf-8")}
    StackDeployer(cf, out).deploy(member_stack, body, chosen, ["CAPABILITY_NAMED_IAM"], dry_run)
    return 0
