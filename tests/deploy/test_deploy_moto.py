"""`ikr deploy` (the real console script) against a moto server: what comes up, in the central account
and, through the StackSet, in the member accounts. What moto cannot show is checked on the template
in test_central_template.py (see README "What the emulator cannot check")."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from central.aws.cloudformation import CloudFormation
from central.deploy.deployed_stack import central_values
from tests.deploy.conftest import tiny_artifact
from tests.deploy.policy_eval import Request, evaluate
from tests.support.servers import MotoServer, env_for, ikr_command
from tests.support.world import AccountSpec, OrgSpec, World, build_world

BUCKET = "ikr-deploy-test"
EXTERNAL_ID = "ikr-deploy-test-external-id"
STACK = "ikr-central"


@dataclass
class Deployed:
    world: World
    env: dict[str, str]
    first: subprocess.CompletedProcess[str]
    again: subprocess.CompletedProcess[str]
    org_id: str
    artifact: Path

    def client(self, service: str, account: str | None = None) -> Any:
        session = self.world.central if account is None else self.world.session(account)
        return session.client(service)  # type: ignore[call-overload]

    def outputs(self) -> dict[str, str]:
        """The stack's outputs as `ikr deploy` reads them (moto drops a change-set stack's own outputs)."""
        values = central_values(CloudFormation(self.client("cloudformation")), STACK)
        resources = self.client("cloudformation").list_stack_resources(StackName=STACK)["StackResourceSummaries"]
        physical = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources}
        names = {
            "RotatorFunctionName": "RotatorFunction",
            "AccountWorkerFunctionName": "AccountWorkerFunction",
            "DestructorFunctionName": "DestructorFunction",
            "ReporterFunctionName": "ReporterFunction",
            "AccountQueueUrl": "AccountQueue",
            "ReportBucketName": "ReportBucket",
        }
        for output, logical in names.items():
            values.setdefault(output, physical[logical])
        table = self.client("dynamodb").describe_table(TableName="ikr-expiry")["Table"]
        values.setdefault("TableStreamArn", table["LatestStreamArn"])
        return values


def deploy_args(*extra: str) -> list[str]:
    return [
        "deploy",
        "--bucket",
        BUCKET,
        "--parameter",
        "MailFrom=ikr@example.com",
        "--parameter",
        f"IkrExternalId={EXTERNAL_ID}",
        "--parameter",
        "AdminEmail=admin@example.com",
        "--parameter",
        "SmtpPasswordParameter=/ikr/smtp-password",
        *extra,
    ]


def run_ikr(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ikr_command(), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=180, check=False
    )


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    work = tmp_path_factory.mktemp("deploy")
    with MotoServer() as server, pytest.MonkeyPatch.context() as patch:
        env = env_for(server.url)
        for name, value in env.items():
            if name.startswith("AWS_"):
                patch.setenv(name, value)
        central = boto3.Session(region_name="us-east-1")
        world = build_world(
            central,
            OrgSpec(
                ous={"Workloads": {"IKR:ENABLED": "true"}, "Sandbox": {}},
                accounts=[
                    AccountSpec("prod", "Workloads"),
                    AccountSpec("dev", "Workloads"),
                    AccountSpec("lab", "Sandbox"),
                ],
            ),
        )
        central.client("s3").create_bucket(Bucket=BUCKET)
        org_id = central.client("organizations").describe_organization()["Organization"]["Id"]
        artifact = tiny_artifact(work / "ikr-lambda.zip")
        target = ["--target-ou", world.ou_ids["Workloads"], "--target-ou", world.ou_ids["Sandbox"]]
        first = run_ikr(env, work, *deploy_args("--artifact", str(artifact), *target))
        again = run_ikr(env, work, *deploy_args("--artifact", str(artifact), *target))
        yield Deployed(world, env, first, again, org_id, artifact)


def test_deploy_succeeds_shows_the_change_set_first_and_prints_outputs(deployed: Deployed) -> None:
    out = deployed.first.stdout
    assert deployed.first.returncode == 0, out + deployed.first.stderr
    change_set = out.index("change set ikr-")
    assert "  + Add     ExpiryTable (AWS::DynamoDB::Table)" in out
    assert "  + Add     DestructorStreamMapping (AWS::Lambda::EventSourceMapping)" in out
    executed = out.index("CREATE_COMPLETE; outputs:")
    assert change_set < executed  # shown before it ran (outputs are printed: test_stack_deployer.py)
    assert f"uploaded s3://{BUCKET}/ikr/lambda-" in out
    assert "stackset ikr-member-role: create (SERVICE_MANAGED, auto-deployment on, as SELF)" in out
    # moto has neither call the checks make: said, and the deploy goes on (test_deploy_checks.py: AWS's answers).
    assert out.index("lambda concurrency: not checked") < out.index("trusted access for StackSets: not checked")
    assert out.index("trusted access for StackSets: not checked") < change_set
    assert "member role in 3 account(s)" in out


def test_exposed_key_forwarding_reaches_every_member_account_in_the_health_regions(deployed: Deployed) -> None:
    """AWS Health sends IAM's global events to us-east-1 (us-west-2 as backup): the forwarding rule is in
    both, in every account of the target OUs, pointing at the central account's default bus."""
    out = deployed.first.stdout
    assert "stackset ikr-exposure-forward: create (SERVICE_MANAGED, auto-deployment on, as SELF)" in out
    assert f"{deployed.world.ou_ids['Sandbox']} / us-east-1, us-west-2;" in out
    assert "stackset ikr-exposure-forward: exposed-key forwarding in 3 account(s)" in out
    assert "stackset ikr-exposure-forward: update" in deployed.again.stdout
    cf = deployed.client("cloudformation")
    instances = cf.list_stack_instances(StackSetName="ikr-exposure-forward", CallAs="SELF")["Summaries"]
    members = {deployed.world.account_ids[name] for name in ("prod", "dev", "lab")}
    assert {(i["Account"], i["Region"]) for i in instances} == {
        (account, region) for account in members for region in ("us-east-1", "us-west-2")
    }
    parameters = cf.describe_stack_set(StackSetName="ikr-exposure-forward", CallAs="SELF")["StackSet"]["Parameters"]
    bus = f"arn:aws:events:us-east-1:{deployed.world.management_id}:event-bus/default"
    assert parameters == [{"ParameterKey": "CentralEventBusArn", "ParameterValue": bus}]


def test_a_second_deploy_changes_nothing_and_updates_the_stackset(deployed: Deployed) -> None:
    assert deployed.again.returncode == 0, deployed.again.stdout + deployed.again.stderr
    assert f"stack {STACK}: no changes" in deployed.again.stdout
    assert "stackset ikr-member-role: update" in deployed.again.stdout


def test_expiry_table_has_the_stream_the_destructor_reads(deployed: Deployed) -> None:
    table = deployed.client("dynamodb").describe_table(TableName="ikr-expiry")["Table"]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["account_id", "item_key"]
    assert deployed.outputs()["TableStreamArn"] == table["LatestStreamArn"]


def test_functions_carry_handlers_roles_and_every_setting(deployed: Deployed) -> None:
    lam = deployed.client("lambda")
    outputs = deployed.outputs()
    expected = {
        "RotatorFunctionName": ("handlers.rotator.handler", "RotatorRoleArn"),
        "AccountWorkerFunctionName": ("handlers.account_worker.handler", "AccountWorkerRoleArn"),
        "DestructorFunctionName": ("handlers.destructor.handler", "DestructorRoleArn"),
        "ReporterFunctionName": ("handlers.reporter.handler", "ReporterRoleArn"),
    }
    for output, (handler, role) in expected.items():
        config = lam.get_function_configuration(FunctionName=outputs[output])
        assert config["Handler"] == handler
        assert config["Runtime"] == "python3.12"
        assert config["Role"] == outputs[role]
        variables = config["Environment"]["Variables"]
        assert str(variables["IAM_KEY_ROTATOR_TABLE"]) == "ikr-expiry"
        assert str(variables["IKR_EXTERNAL_ID"]) == EXTERNAL_ID
        assert str(variables["MAIL_FROM"]) == "ikr@example.com"
        assert str(variables["SMTP_PASSWORD_PARAMETER"]) == "/ikr/smtp-password"
        assert str(variables["IKR_ACCOUNT_QUEUE_URL"]) == outputs["AccountQueueUrl"]
        assert str(variables["IKR_REPORT_BUCKET"]) == outputs["ReportBucketName"]
        assert str(variables["ROTATE_AFTER_DAYS"]) == "85"
        # Optional settings left empty are absent, not "": pydantic would refuse an empty address.
        assert "SMTP_SERVER" not in variables
        assert "MAILGUN_API_KEY_NAME" not in variables


def test_event_sources_have_partial_batch_responses_and_bounds(deployed: Deployed) -> None:
    outputs = deployed.outputs()
    mappings = deployed.client("lambda").list_event_source_mappings()["EventSourceMappings"]
    by_function = {m["FunctionArn"].rsplit(":", 1)[-1]: m for m in mappings}
    stream = by_function[outputs["DestructorFunctionName"]]
    assert stream["EventSourceArn"] == outputs["TableStreamArn"]
    assert stream["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert stream["BisectBatchOnFunctionError"] is True
    assert stream["MaximumRetryAttempts"] == 5
    assert (
        stream["DestinationConfig"]["OnFailure"]["Destination"]
        .split(":")[-1]
        .startswith(f"{STACK}-DestructorDeadLetterQueue-")
    )
    assert json.loads(stream["FilterCriteria"]["Filters"][0]["Pattern"]) == {"eventName": ["REMOVE"]}
    queue = by_function[outputs["AccountWorkerFunctionName"]]
    assert queue["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert queue["ScalingConfig"] == {"MaximumConcurrency": 5}
    assert outputs["AccountQueueUrl"].endswith(queue["EventSourceArn"].split(":")[-1])


def test_schedules_default_to_the_original_tools_cron(deployed: Deployed) -> None:
    events = deployed.client("events")
    rules = {rule["Name"]: rule for rule in events.list_rules()["Rules"]}
    rotation = next(rule for name, rule in rules.items() if "RotationScheduleRule" in name)
    assert rotation["ScheduleExpression"] == "cron(0 12 * * ? *)"
    targets = events.list_targets_by_rule(Rule=rotation["Name"])["Targets"]
    assert [t["Arn"].rsplit(":", 1)[-1] for t in targets] == [deployed.outputs()["RotatorFunctionName"]]


def test_member_role_reaches_every_account_of_the_target_ous_and_trusts_the_central_lambdas(
    deployed: Deployed,
) -> None:
    outputs = deployed.outputs()
    for name in ("prod", "dev", "lab"):
        iam = deployed.client("iam", deployed.world.account_ids[name])
        role = iam.get_role(RoleName="ikr-member")["Role"]
        trust = role["AssumeRolePolicyDocument"]
        statement = trust["Statement"][0]
        assert statement["Condition"]["ArnEquals"]["aws:PrincipalArn"] == [
            outputs["RotatorRoleArn"],
            outputs["AccountWorkerRoleArn"],
            outputs["DestructorRoleArn"],
            outputs["ReporterRoleArn"],
        ]
        assert statement["Condition"]["StringEquals"] == {
            "aws:PrincipalOrgID": deployed.org_id,
            "sts:ExternalId": EXTERNAL_ID,
        }
        assert iam.list_role_policies(RoleName="ikr-member")["PolicyNames"] == ["ikr-member"]
    # The management account is not in a target OU (and StackSets never deploy there).
    central_iam = deployed.client("iam")
    with pytest.raises(central_iam.exceptions.NoSuchEntityException):
        central_iam.get_role(RoleName="ikr-member")


def test_stackset_is_service_managed(deployed: Deployed) -> None:
    stackset = deployed.client("cloudformation").describe_stack_set(StackSetName="ikr-member-role")["StackSet"]
    assert stackset["PermissionModel"] == "SERVICE_MANAGED"
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stackset["Parameters"]}
    assert parameters["OrganizationId"] == deployed.org_id
    assert parameters["RoleName"] == "ikr-member"


def test_dry_run_shows_the_change_set_and_changes_nothing(deployed: Deployed, tmp_path: Path) -> None:
    run = run_ikr(
        deployed.env,
        tmp_path,
        *deploy_args("--artifact", str(deployed.artifact), "--stack-name", "ikr-dry", "--dry-run"),
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "stack ikr-dry: change set ikr-" in run.stdout
    assert "  + Add     RotatorFunction (AWS::Lambda::Function)" in run.stdout
    assert "stack ikr-dry: dry run, nothing executed" in run.stdout
    assert "stackset ikr-member-role: planned once the central stack exists" in run.stdout
    stacks = deployed.client("cloudformation").list_stacks()["StackSummaries"]
    assert [s["StackStatus"] for s in stacks if s["StackName"] == "ikr-dry"] in ([], ["DELETE_COMPLETE"])


def test_dry_run_of_the_deployed_stack_plans_the_stackset_update(deployed: Deployed, tmp_path: Path) -> None:
    run = run_ikr(deployed.env, tmp_path, *deploy_args("--artifact", str(deployed.artifact), "--dry-run"))
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"stack {STACK}: no changes" in run.stdout
    assert "stackset ikr-member-role: update (SERVICE_MANAGED" in run.stdout
    assert "stackset ikr-member-role: dry run, nothing changed" in run.stdout


def test_bad_input_exits_2_before_touching_aws(deployed: Deployed, tmp_path: Path) -> None:
    unknown = run_ikr(
        deployed.env, tmp_path, *deploy_args("--artifact", str(deployed.artifact), "--parameter", "RotateAfterDay=3")
    )
    assert unknown.returncode == 2
    assert "not parameters of the central stack you may set: RotateAfterDay" in unknown.stderr
    managed = run_ikr(
        deployed.env, tmp_path, *deploy_args("--artifact", str(deployed.artifact), "--parameter", "ArtifactKey=x")
    )
    assert managed.returncode == 2
    missing = run_ikr(
        deployed.env,
        tmp_path,
        "deploy",
        "--bucket",
        BUCKET,
        "--artifact",
        str(deployed.artifact),
        "--stack-name",
        "ikr-new",
    )
    assert missing.returncode == 2
    assert "the central stack needs: MailFrom" in missing.stderr
    no_file = run_ikr(deployed.env, tmp_path, *deploy_args("--artifact", str(tmp_path / "nope.zip")))
    assert no_file.returncode == 2


def test_member_role_trust_refuses_outsiders_and_calls_without_the_external_id(deployed: Deployed) -> None:
    """The trust policy as deployed, judged by tests/deploy/policy_eval.py (moto does not evaluate trust)."""
    outputs = deployed.outputs()
    iam = deployed.client("iam", deployed.world.account_ids["prod"])
    trust = iam.get_role(RoleName="ikr-member")["Role"]["AssumeRolePolicyDocument"]

    def verdict(principal: str, org: str | None = deployed.org_id, external_id: str | None = EXTERNAL_ID) -> str:
        context = {"aws:PrincipalArn": principal, "aws:PrincipalOrgID": org, "sts:ExternalId": external_id}
        return evaluate([trust], Request("sts:AssumeRole", principal=principal, context=context))

    for role in ("RotatorRoleArn", "AccountWorkerRoleArn", "DestructorRoleArn", "ReporterRoleArn"):
        assert verdict(outputs[role]) == "Allow", role
    rotator = outputs["RotatorRoleArn"]
    assert verdict(rotator, external_id=None) == "ImplicitDeny"
    assert verdict(rotator, external_id="guessed") == "ImplicitDeny"
    assert verdict(rotator, org="o-someoneelse0") == "ImplicitDeny"
    assert verdict(rotator, org=None) == "ImplicitDeny"
    # Another role of the central account, and the same role name in another account.
    assert verdict(rotator.rsplit("/", 1)[0] + "/SomeAdmin") == "ImplicitDeny"
    assert verdict(rotator.replace(":123456789012:", ":999999999999:")) == "ImplicitDeny"
