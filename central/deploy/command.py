"""`ikr deploy`: the order of its steps in its three modes (the central stack with the member-role
StackSet, `--standalone`, `--management-account`). Its arguments and options: `central.deploy.options`;
the artifact it uploads: `central.deploy.packaging`."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from central.aws import clients as aws
from central.aws.cloudformation import CloudFormation
from central.aws.deploy_target import DeployTarget, Organization
from central.aws.errors import AwsError
from central.aws.lambda_account import LambdaAccount
from central.aws.partition import for_region as partition_for_region
from central.aws.s3 import Bucket
from central.deploy import artifact, checks, template
from central.deploy.deployed_stack import central_values, member_parameters, previous_parameters
from central.deploy.exposure_forward import forward_exposures
from central.deploy.member_here import deploy_member_role_here
from central.deploy.options import DeployOptions, options_from
from central.deploy.packaging import code_to_deploy
from central.deploy.stack import StackDeployer, missing_required, stack_parameters
from central.deploy.stackset import StackSetDeployer
from central.deploy.upload import upload
from central.domain.errors import UsageError

if TYPE_CHECKING:
    from central.aws.sessions import Session

# Set by `ikr deploy` itself, never by the operator.
_MANAGED = ("ArtifactBucket", "ArtifactKey")


def deploy(args: argparse.Namespace) -> int:
    options = options_from(args)
    session = aws.region_session(options.region)
    target = _deploy_target(session)
    if options.management_account:
        cf = CloudFormation(aws.cloudformation(session))
        return deploy_member_role_here(
            target,
            cf,
            options.parameters,
            central_stack=options.stack_name,
            member_stack=options.member_stack_name,
            previous=previous_parameters(cf, options.member_stack_name),
            dry_run=options.dry_run,
        )
    central = template.load(template.CENTRAL_TEMPLATE)
    known = template.parameters(central)
    refused = sorted((set(options.parameters) - set(known)) | (set(options.parameters) & set(_MANAGED)))
    if refused:
        raise UsageError(f"not parameters of the central stack you may set: {', '.join(refused)}")
    region = target.region
    cf = CloudFormation(aws.cloudformation(session))
    organization = organization_of(target, options.standalone)
    parameters = dict(options.parameters)
    if organization is None:
        parameters.update(standalone_parameters(parameters, target.caller.account_id))
    elif "OrganizationId" not in parameters:
        parameters["OrganizationId"] = organization.id
    previous = previous_parameters(cf, options.stack_name)
    check_quota(central, parameters, previous, LambdaAccount(aws.lambda_(session), region, target.caller.account_id))
    with_stackset = organization is not None and not options.no_stackset
    call_as = options.call_as or ("SELF" if _is_management(target, organization) else "DELEGATED_ADMIN")
    if with_stackset:
        checks.check_trusted_access(cf, call_as, print)
    code = code_to_deploy(options.artifact)
    assert options.bucket is not None  # DeployOptions requires it outside --management-account
    bucket = Bucket(aws.s3(session), options.bucket)
    code_key = f"ikr/lambda-{code.sha256[:20]}.zip"
    template_key = f"ikr/templates/central-{artifact.sha256_of(template.CENTRAL_TEMPLATE)[:20]}.yaml"
    parameters.update(ArtifactBucket=options.bucket, ArtifactKey=code_key)
    chosen = stack_parameters(known, parameters, previous)
    missing = missing_required(known, chosen, creating=previous is None)
    if missing:
        raise UsageError(f"the central stack needs: {', '.join(missing)} (give them with --parameter KEY=VALUE)")
    partition = target.caller.partition
    upload(bucket, code_key, code.path, print, partition)
    upload(bucket, template_key, template.CENTRAL_TEMPLATE, print, partition)
    # The bucket's host is in the region's partition: amazonaws.com.cn in China.
    url = f"https://{options.bucket}.s3.{region}.{partition_for_region(region).dns_suffix}/{template_key}"
    deployer = StackDeployer(cf, print)
    # The central stack's roles carry no names of their own: CAPABILITY_IAM is enough.
    deployer.deploy(options.stack_name, {"TemplateURL": url}, chosen, ["CAPABILITY_IAM"], options.dry_run)
    if not with_stackset or organization is None:
        return 0
    return _deploy_stacksets(cf, options, target, organization, call_as)


def _deploy_stacksets(
    cf: CloudFormation, options: DeployOptions, target: DeployTarget, organization: Organization, call_as: str
) -> int:
    """The member-role StackSet, then the exposed-key forwarding, over the target OUs (default: the roots)."""
    region = target.region
    outputs = central_values(cf, options.stack_name)
    stackset_template = template.load(template.STACKSET_TEMPLATE)
    name = stackset_name(stackset_template)
    if not outputs:
        print(f"stackset {name}: planned once the central stack exists (it names the roles the member role trusts)")
        return 0
    ous = options.target_ous or target.root_ids()
    StackSetDeployer(cf, print, call_as).deploy(
        name,
        template.MEMBER_TEMPLATE.read_text(encoding="utf-8"),
        member_parameters(outputs),
        template.stackset_properties(stackset_template),
        ous,
        [region],
        dry_run=options.dry_run,
    )
    forward_exposures(StackSetDeployer(cf, print, call_as), outputs, ous, target.caller, region, options.dry_run)
    if target.caller.account_id != organization.management_account_id:
        print(management_account_hint(organization.management_account_id))
    return 0


def _deploy_target(session: Session) -> DeployTarget:
    target = DeployTarget(session)
    _ = target.caller  # first: every later message can name the account deploying (one STS call, needed anyway)
    return target


def organization_of(target: DeployTarget, standalone: bool) -> Organization | None:
    """The caller's Organization, or None for a standalone deployment: an account in no Organization,
    or `--standalone` (refused in an account that is in one: the run would work the Organization)."""
    if not standalone:
        found = target.organization
        if found is None:
            print(f"account {target.caller.account_id} is in no Organization: a standalone deployment (--standalone)")
        return found
    try:
        found = target.organization
    except AwsError as exc:  # e.g. no organizations:DescribeOrganization: the operator's word stands
        print(f"--standalone: the Organization was not checked ({exc})")
        return None
    if found is not None:
        raise UsageError(
            f"--standalone: account {target.caller.account_id} is in Organization {found.id}, and ikr's run "
            "would work the Organization, not this account alone; deploy without --standalone"
        )
    return None


def standalone_parameters(given: dict[str, str], account_id: str) -> dict[str, str]:
    """A standalone account's central stack: no Organization to assume roles in, and this account's own
    users worked with the Lambdas' own credentials (the member role's permissions, here)."""
    wanted = {"OrganizationId": "", "ManageCentralAccount": "true"}
    clashing = [f"{key}={given[key]}" for key, value in wanted.items() if key in given and given[key] != value]
    if clashing:
        raise UsageError(
            f"a standalone deployment sets {', '.join(f'{k}={v!r}' for k, v in wanted.items())}; "
            f"not {', '.join(clashing)}"
        )
    print(
        f"standalone: the central stack in account {account_id} works its own users (ManageCentralAccount=true); "
        "no StackSet, no member role"
    )
    return wanted


def check_quota(
    central: dict[str, Any], given: dict[str, str], previous: dict[str, str] | None, lam: LambdaAccount
) -> None:
    parameters = template.parameters(central)

    def value_of(key: str) -> str:
        if key in given:
            return given[key]
        if previous is not None and key in previous:
            return previous[key]
        return str((parameters.get(key) or {}).get("Default", ""))

    wanted = checks.reservations(central, value_of)
    # An update of a stack that reserves already: those reservations are its own to keep.
    held = sum(wanted.values()) if previous and previous.get(checks.RESERVE_PARAMETER) == "true" else 0
    reserve = value_of(checks.RESERVE_PARAMETER) == "true"
    cap = int(value_of("AccountWorkerMaxConcurrency") or 0)
    checks.check_concurrency(lam, reserve, wanted, held, cap, print)


def _is_management(target: DeployTarget, organization: Organization | None) -> bool:
    return organization is not None and target.caller.account_id == organization.management_account_id


def management_account_hint(management_account_id: str) -> str:
    return (
        f"management account {management_account_id}: StackSets never deploy to it, so it has no member role; "
        "to manage its users, run `ikr deploy --management-account` with its credentials"
    )


def stackset_name(stackset_template: dict[str, Any]) -> str:
    return str(template.parameters(stackset_template)["StackSetName"]["Default"])
