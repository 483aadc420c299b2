"""`ikr deploy`'s arguments and the operator's input checked into `DeployOptions` (a usage error
naming each field that is wrong)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from central.domain.errors import UsageError


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
