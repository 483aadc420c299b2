"""`ikr package` and `ikr deploy`: arguments, checks of the operator's input, and the order of steps."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from central.aws import clients as aws
from central.aws.cloudformation import CloudFormation
from central.aws.deploy_target import DeployTarget, Organization
from central.aws.errors import AwsError
from central.aws.lambda_account import LambdaAccount
from central.aws.partition import for_region as partition_for_region
from central.aws.s3 import Bucket
from central.deploy import artifact, bytecode, checks, native, template
from central.deploy.deployed_stack import central_values, member_parameters, previous_parameters
from central.deploy.exposure_forward import forward_exposures
from central.deploy.member_here import deploy_member_role_here
from central.deploy.stack import StackDeployer, missing_required, stack_parameters
from central.deploy.stackset import StackSetDeployer
from central.deploy.upload import upload
from central.domain.errors import UsageError

if TYPE_CHECKING:
    from central.aws.sessions import Session

DEFAULT_ARTIFACT = Path("dist/ikr-lambda.zip")
# Set by `ikr deploy` itself, never by the operator.
_MANAGED = ("ArtifactBucket", "ArtifactKey")


def add_package_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", type=Path, default=DEFAULT_ARTIFACT, help="zip to write (default: %(default)s)")
    parser.add_argument(
        "--requirements",
        type=Path,
        help="install exactly these requirements (e.g. a previous artifact's ikr-requirements.txt) "
        "instead of pyproject's runtime dependencies",
    )
    parser.add_argument(
        "--pip-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for pip (repeatable), e.g. --pip-arg=--find-links=wheels",
    )
    parser.add_argument(
        "--python",
        metavar="INTERPRETER",
        help="interpreter of the Lambda runtime's Python version that compiles the artifact's .pyc files "
        "(default: this one, the runtime's pythonX.Y on PATH or a pyenv install of it, if any is; "
        "with none the artifact has no .pyc and every cold start compiles the code)",
    )


def add_deploy_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bucket", help="S3 bucket (deploy region) for the artifact and templates (not for --management-account)"
    )
    parser.add_argument("--artifact", type=Path, help="a zip from `ikr package` (default: build one now)")
    parser.add_argument("--stack-name", default="ikr-central", help="the central stack (default: %(default)s)")
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a central stack parameter (repeatable; overrides --parameters-file); with --management-account, "
        "a member role parameter",
    )
    parser.add_argument("--parameters-file", type=Path, help='JSON: {"Key": "Value"} or CloudFormation\'s list form')
    parser.add_argument(
        "--target-ou",
        action="append",
        default=[],
        metavar="ID",
        help="OU (ou-...) or root (r-...) whose accounts get the member role (repeatable; default: the root)",
    )
    parser.add_argument(
        "--call-as",
        choices=["SELF", "DELEGATED_ADMIN"],
        help="default: SELF in the management account, else DELEGATED_ADMIN",
    )
    parser.add_argument("--no-stackset", action="store_true", help="deploy the central stack only")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--standalone",
        action="store_true",
        help="an account in no Organization: the central stack alone, working this account with its own "
        "credentials (ManageCentralAccount=true), no StackSet (default when the account is in no Organization)",
    )
    mode.add_argument(
        "--management-account",
        action="store_true",
        help="with the management account's credentials: deploy the member role there as a plain stack "
        "(StackSets never deploy to the management account); its parameters come from the member StackSet",
    )
    parser.add_argument(
        "--member-stack-name",
        default="ikr-member-role",
        help="the member role's stack with --management-account (default: %(default)s)",
    )
    parser.add_argument("--dry-run", action="store_true", help="show the change set and StackSet plan only")
    parser.add_argument("--region", help="default: the usual boto3 region (AWS_REGION / profile)")


class DeployOptions(BaseModel):
    model_config = ConfigDict(frozen=True)

    bucket: str | None = Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    artifact: Path | None
    stack_name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
    parameters: dict[str, str]
    target_ous: list[str]
    call_as: str | None
    no_stackset: bool
    dry_run: bool
    region: str | None
    standalone: bool = False
    management_account: bool = False
    member_stack_name: str = Field("ikr-member-role", pattern=r"^[A-Za-z][A-Za-z0-9-]{0,127}$")

    @model_validator(mode="after")
    def _bucket_unless_member_role_only(self) -> DeployOptions:
        if self.bucket is None and not self.management_account:
            raise ValueError("--bucket is required (the artifact and the template are uploaded there)")
        return self

    @field_validator("target_ous")
    @classmethod
    def _ou_ids(cls, values: list[str]) -> list[str]:
        for value in values:
            if not (value.startswith("ou-") or value.startswith("r-")):
                raise ValueError(f"{value!r} is not an OU id (ou-...) or a root id (r-...)")
        return values


def parse_parameters(pairs: Sequence[str], file: Path | None) -> dict[str, str]:
    chosen: dict[str, str] = {}
    if file is not None:
        try:
            data: Any = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"--parameters-file {file}: {exc}") from None
        if isinstance(data, list):
            data = {item.get("ParameterKey"): item.get("ParameterValue") for item in data if isinstance(item, dict)}
        if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
            raise UsageError(f"--parameters-file {file}: want an object of string values or a ParameterKey list")
        chosen.update(data)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--parameter {pair!r}: want KEY=VALUE")
        chosen[key] = value
    return chosen


def options_from(args: argparse.Namespace) -> DeployOptions:
    try:
        return DeployOptions(
            bucket=args.bucket,
            artifact=args.artifact,
            stack_name=args.stack_name,
            parameters=parse_parameters(args.parameter, args.parameters_file),
            target_ous=args.target_ou,
            call_as=args.call_as,
            no_stackset=args.no_stackset,
            dry_run=args.dry_run,
            region=args.region,
            standalone=args.standalone,
            management_account=args.management_account,
            member_stack_name=args.member_stack_name,
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" if error["loc"] else error["msg"]
            for error in exc.errors(include_url=False, include_input=False)
        )
        raise UsageError(f"invalid deploy options: {problems}") from None


def package(args: argparse.Namespace) -> int:
    built = build_artifact(args.output, args.requirements, args.pip_arg, args.python)
    print(
        f"artifact {built.path} sha256 {built.sha256} ({built.entries} files, {built.size / 1e6:.1f} MB) "
        f"for {built.runtime} {built.architecture}"
    )
    print(bytecode_line(built))
    print(native_line(built))
    return 0


def bytecode_line(built: artifact.Artifact) -> str:
    if built.bytecode is not None:
        return f"bytecode: {bytecode.cache_tag(built.runtime)} .pyc compiled by {built.bytecode}"
    return (
        f"bytecode: none - no {built.runtime} interpreter found (give one with --python): the artifact "
        "works, but every cold start compiles the modules it imports (about twice the import time)"
    )


def native_line(built: artifact.Artifact) -> str:
    if built.native is not None:
        return f"native libraries: {built.native}"
    return (
        "native libraries: not stripped - no llvm-strip found (Debian: apt-get install llvm): the artifact works, "
        "about 1.2 MB larger"
    )


def build_artifact(
    output: Path, requirements: Path | None, pip_extra: Sequence[str], python: str | None = None
) -> artifact.Artifact:
    runtime, architecture = template.lambda_platform(template.load(template.CENTRAL_TEMPLATE))
    compiler = bytecode.find_compiler(runtime, python)
    if requirements is not None:
        try:
            wanted = [line.strip() for line in requirements.read_text(encoding="utf-8").splitlines() if line.strip()]
        except OSError as exc:
            raise UsageError(f"--requirements {requirements}: {exc.strerror}") from None
    else:
        wanted = artifact.runtime_requirements(template.REPO_ROOT / "pyproject.toml")
    return artifact.build(
        template.REPO_ROOT,
        output,
        runtime,
        architecture,
        wanted,
        pip_extra,
        compiler=compiler,
        stripper=native.find_stripper(),
    )


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
    code = _artifact(options.artifact)
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


class _Code(BaseModel):
    path: Path
    sha256: str


def _artifact(path: Path | None) -> _Code:
    if path is None:
        built = build_artifact(DEFAULT_ARTIFACT, None, [])
        print(f"artifact {built.path} sha256 {built.sha256} built")
        print(bytecode_line(built))
        print(native_line(built))
        return _Code(path=built.path, sha256=built.sha256)
    if not path.is_file():
        raise UsageError(f"--artifact {path}: no such file (build one with `ikr package`)")
    return _Code(path=path, sha256=artifact.sha256_of(path))
