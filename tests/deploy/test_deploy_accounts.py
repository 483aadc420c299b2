"""`ikr deploy` where no StackSet reaches (the real console script against a moto server):

- a standalone account (no Organization, the original tool's setting): the central stack alone, working
  its own users with the Lambdas' own credentials; then a real `ikr rotate` in that account, end to end;
- the Organization's management account (`--management-account`): the member role as a plain stack,
  with the member StackSet's parameters.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from central.deploy import template
from tests.deploy.conftest import tiny_artifact
from tests.deploy.test_deploy_moto import run_ikr
from tests.support.servers import MotoServer, SmtpSink, env_for
from tests.support.world import OrgSpec, build_world

BUCKET = "ikr-standalone-test"
DAY_100 = (datetime.now(UTC) + timedelta(days=100)).isoformat(timespec="seconds")


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[MotoServer, SmtpSink]]:
    with MotoServer() as server, SmtpSink() as sink:
        for name, value in env_for(server.url).items():
            if name.startswith("AWS_"):
                monkeypatch.setenv(name, value)
        yield server, sink


def stack_parameters(cf: Any, name: str) -> dict[str, str]:
    stack = cf.describe_stacks(StackName=name)["Stacks"][0]
    return {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack["Parameters"]}


def test_a_standalone_account_gets_the_central_stack_alone_and_a_run_works_there(
    emulator: tuple[MotoServer, SmtpSink], tmp_path: Path
) -> None:
    server, sink = emulator
    session = boto3.Session(region_name="us-east-1")
    session.client("s3").create_bucket(Bucket=BUCKET)
    iam = session.client("iam")
    iam.create_user(UserName="alice", Tags=[{"Key": "IKR:EMAIL", "Value": "alice@example.com"}])
    old_key = iam.create_access_key(UserName="alice")["AccessKey"]["AccessKeyId"]
    artifact = tiny_artifact(tmp_path / "ikr-lambda.zip")
    env = env_for(server.url, sink.port, IAM_KEY_ROTATOR_TABLE="ikr-expiry")
    args = ("deploy", "--bucket", BUCKET, "--artifact", str(artifact), "--parameter", "MailFrom=ikr@example.com")

    dry = run_ikr(env, tmp_path, *args, "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "account 123456789012 is in no Organization: a standalone deployment (--standalone)" in dry.stdout
    assert "stack ikr-central: dry run, nothing executed" in dry.stdout
    assert "stackset" not in dry.stdout
    assert "trusted access" not in dry.stdout
    assert "  + Add     CentralAccountAsMemberPolicy (AWS::IAM::Policy)" in dry.stdout

    done = run_ikr(env, tmp_path, *args, "--standalone")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "standalone: the central stack in account 123456789012 works its own users" in done.stdout
    assert "lambda concurrency: not checked" in done.stdout  # moto has no GetAccountSettings
    assert "stack ikr-central: CREATE_COMPLETE; outputs:" in done.stdout
    cf = session.client("cloudformation")
    parameters = stack_parameters(cf, "ikr-central")
    assert (parameters["OrganizationId"], parameters["ManageCentralAccount"]) == ("", "true")
    assert cf.list_stack_sets()["Summaries"] == []
    summaries = cf.list_stack_resources(StackName="ikr-central")["StackResourceSummaries"]
    resources = {summary["LogicalResourceId"] for summary in summaries}
    assert "CentralAccountAsMemberPolicy" in resources
    assert "MemberAccessPolicy" not in resources  # no Organization: no role to assume anywhere

    # A run in that account, on the table the stack made: alice's key is rotated and mailed.
    run = run_ikr(env, tmp_path, "rotate", "--now", DAY_100)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "standalone account (no Organization)" in run.stdout
    assert "1 rotated" in run.stdout
    keys = {key["AccessKeyId"] for key in iam.list_access_keys(UserName="alice")["AccessKeyMetadata"]}
    assert old_key in keys
    assert len(keys) == 2
    [mail] = sink.wait_for(1)
    assert mail.envelope_to == ("alice@example.com",)
    items = session.client("dynamodb").scan(TableName="ikr-expiry")["Items"]
    assert [item["account_id"]["S"] for item in items] == ["123456789012"]


def test_standalone_is_refused_in_an_account_of_an_organization(emulator, tmp_path: Path) -> None:
    server, _ = emulator
    build_world(boto3.Session(region_name="us-east-1"), OrgSpec())
    artifact = tiny_artifact(tmp_path / "ikr-lambda.zip")
    run = run_ikr(
        env_for(server.url),
        tmp_path,
        *("deploy", "--bucket", BUCKET, "--artifact", str(artifact), "--standalone"),
    )
    assert run.returncode == 2, run.stdout + run.stderr
    assert "--standalone: account 123456789012 is in Organization o-" in run.stderr
    assert "deploy without --standalone" in run.stderr


CENTRAL = "222233334444"


def member_parameters(org_id: str) -> dict[str, str]:
    roles = {
        "RotatorRoleArn": "RotatorRole",
        "AccountWorkerRoleArn": "AccountWorkerRole",
        "DestructorRoleArn": "DestructorRole",
        "ReporterRoleArn": "ReporterRole",
    }
    values = {key: f"arn:aws:iam::{CENTRAL}:role/ikr-central-{name}-ABC" for key, name in roles.items()}
    return {**values, "RoleName": "ikr-member", "OrganizationId": org_id, "ExternalId": "ext-id-1"}


def test_management_account_gets_the_member_role_as_a_plain_stack(emulator, tmp_path: Path) -> None:
    server, _ = emulator
    central = boto3.Session(region_name="us-east-1")
    world = build_world(central, OrgSpec())
    org_id = central.client("organizations").describe_organization()["Organization"]["Id"]
    cf = central.client("cloudformation")
    # The StackSet as a delegated administrator's `ikr deploy` made it, seen from the management account.
    cf.create_stack_set(
        StackSetName="ikr-member-role",
        TemplateBody=template.MEMBER_TEMPLATE.read_text(encoding="utf-8"),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in member_parameters(org_id).items()],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    env = env_for(server.url)

    dry = run_ikr(env, tmp_path, "deploy", "--management-account", "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "member role parameters from StackSet ikr-member-role" in dry.stdout
    assert "  + Add     MemberRole (AWS::IAM::Role)" in dry.stdout
    assert "stack ikr-member-role: dry run, nothing executed" in dry.stdout
    iam = central.client("iam")
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName="ikr-member")

    done = run_ikr(env, tmp_path, "deploy", "--management-account")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "stack ikr-member-role: CREATE_COMPLETE" in done.stdout
    trust: Any = iam.get_role(RoleName="ikr-member")["Role"]["AssumeRolePolicyDocument"]
    statement = trust["Statement"][0]
    assert statement["Condition"]["ArnEquals"]["aws:PrincipalArn"] == [
        member_parameters(org_id)[key]
        for key in ("RotatorRoleArn", "AccountWorkerRoleArn", "DestructorRoleArn", "ReporterRoleArn")
    ]
    assert statement["Condition"]["StringEquals"] == {"aws:PrincipalOrgID": org_id, "sts:ExternalId": "ext-id-1"}
    assert world.management_id == "123456789012"


def test_management_account_mode_refuses_other_credentials_and_unknown_parameters(emulator, tmp_path: Path) -> None:
    server, _ = emulator
    central = boto3.Session(region_name="us-east-1")
    world = build_world(central, OrgSpec(accounts=[]))
    member = central.client("organizations").create_account(AccountName="m", Email="m@example.com")
    member_id = member["CreateAccountStatus"]["AccountId"]
    creds = central.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{member_id}:role/OrganizationAccountAccessRole", RoleSessionName="test"
    )["Credentials"]
    as_member = env_for(
        server.url,
        AWS_ACCESS_KEY_ID=creds["AccessKeyId"],
        AWS_SECRET_ACCESS_KEY=creds["SecretAccessKey"],
        AWS_SESSION_TOKEN=creds["SessionToken"],
    )
    other = run_ikr(as_member, tmp_path, "deploy", "--management-account")
    assert other.returncode == 2, other.stdout + other.stderr
    assert (
        f"--management-account deploys into the management account {world.management_id}, but these credentials "
        f"are account {member_id}'s" in other.stderr
    )
    unknown = run_ikr(env_for(server.url), tmp_path, "deploy", "--management-account", "--parameter", "MailFrom=x@y.z")
    assert unknown.returncode == 2
    assert "not parameters of the member role: MailFrom" in unknown.stderr
    missing = run_ikr(env_for(server.url), tmp_path, "deploy", "--management-account")
    assert missing.returncode == 2
    assert "the member role needs" in missing.stderr
    assert "no StackSet ikr-member-role" in missing.stderr
