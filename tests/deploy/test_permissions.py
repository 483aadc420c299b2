"""Permissions in the spirit of Cloud Custodian's: record every AWS operation ikr's code calls in a
real run, then hold the deployed roles to it. A call a role does not allow fails; so does a write a
template grants that no recorded call needs (unless listed below with the reason).

The run: `ikr deploy` of both templates into moto (in process), then the rotator (rotation at day 100,
the retry run RETRY_AFTER_MINS later for the accounts whose delivery was refused, sweep at day 110)
and the destructor fed from the table's stream, on the end-to-end Organization with the central
account opted in too. The list of calls comes from a botocore `before-call` hook
on every client made during the run, never from a hand list; the policies are the ones moto holds
after the deployment (intrinsics resolved by CloudFormation, not by this test). They are judged by
tests/deploy/policy_eval.py, with the users' real tags as aws:ResourceTag and the Organization's id
as aws:ResourceOrgID.
"""

from __future__ import annotations

import ast
import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

import boto3
import botocore.session
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from central.aws.cloudformation import CloudFormation
from central.aws.stream_pump import Checkpoint, pump
from central.cli.main import parser
from central.deploy import command as deploying
from central.domain.exposure import Exposure
from central.rotation.exposure import handle_exposure
from central.rotation.on_demand import OnDemand, rotate_on_demand
from central.rotation.retry import run_retries
from central.rotation.run import run_rotation
from central.settings import load_settings
from central.wiring import build_services
from tests.deploy.conftest import tiny_artifact
from tests.deploy.policy_eval import Request, evaluate
from tests.e2e.conftest import e2e_spec
from tests.support.ci_standins import GITHUB_TOKEN, GitHubStandIn
from tests.support.world import UserSpec, World, build_world

CENTRAL = "123456789012"
REGION = "us-east-1"
EXTERNAL_ID = "ikr-permission-test"
GITHUB_SECRET = "ikr/github-token"
MAIL_FROM = "ikr@example.com"
TODAY = datetime.now(UTC)
DAY_100, DAY_110, DAY_113 = (TODAY + timedelta(days=days) for days in (100, 110, 113))

# Writes a template grants that no code calls yet: each entry names the work that will call it and
# is removed when that work lands (the test then proves the grant from the recording).
GRANTED_AHEAD_OF_CODE = {
    "sqs:SendMessage": "fan-out: the rotator sends one message per account to the account queue "
    "(the code exists; this recording does not run the fan-out phase yet)",
    "s3:PutObject": "the reporter writes the org report into the report bucket "
    "(the code exists; this recording does not run the reporter yet)",
}
# Writes made on a role's behalf by AWS itself, never by ikr's code: nothing in a recording can show them.
CALLED_BY_AWS = {
    "logs:CreateLogStream": "the Lambda runtime writes the function's logs",
    "logs:PutLogEvents": "the Lambda runtime writes the function's logs",
    "sqs:DeleteMessage": "the account queue's event source mapping deletes what the worker handled",
    "kms:Encrypt": "SSM encrypts SecureString parameters (kms:ViaService = ssm)",
    "kms:Decrypt": "SSM decrypts SecureString parameters (kms:ViaService = ssm)",
    "secretsmanager:TagResource": "CreateSecret with Tags (IKR:MANAGED) is authorised as a TagResource too",
}
REFUSING = "ikr/archive/busy"  # a secret whose writes are throttled: the delivery is refused for now
_WRITE_VERBS = ("Create", "Update", "Delete", "Put", "Send", "Generate", "Tag", "Untag", "Attach", "Detach", "Set")
# Needs no permission at all (AWS answers every principal).
_FREE = {"sts:GetCallerIdentity"}


@dataclass(frozen=True)
class Call:
    phase: str  # rotator, destructor, or stream (Lambda's event source mapping, on the destructor's role)
    account: str
    action: str
    params: dict[str, Any]


@dataclass
class Recorder:
    phase: str = "setup"
    calls: list[Call] = field(default_factory=list)
    assumed: dict[str, str] = field(default_factory=dict)  # access key id -> account of the assumed role

    def record(self, client: Any, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        if model.name == "AssumeRole":
            context["ikr_role_arn"] = params["RoleArn"]  # read back in after-call, same request
        if self.phase == "setup":
            return
        credentials = client._request_signer._credentials
        key = credentials.get_frozen_credentials().access_key if credentials else ""
        account = self.assumed.get(key, CENTRAL)
        action = f"{model.service_model.signing_name}:{model.name}"
        if action == "ssm:DeleteParameters":
            # IAM authorises each parameter named: one request per name.
            self.calls.extend(Call(self.phase, account, action, {"Name": name}) for name in params["Names"])
            return
        self.calls.append(Call(self.phase, account, action, dict(params)))

    def assumed_role(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        credentials = parsed.get("Credentials")
        if credentials and "ikr_role_arn" in context:
            self.assumed[credentials["AccessKeyId"]] = context["ikr_role_arn"].split(":")[4]


@dataclass
class Recorded:
    calls: list[Call]
    world: World
    org_id: str
    stream_arn: str
    central_policies: dict[str, list[dict[str, Any]]]  # role logical id -> policy documents
    member_policies: dict[str, list[dict[str, Any]]]  # account id -> the member role's policies there
    user_tags: dict[tuple[str, str], dict[str, str]]


def _documents(iam: Any, role: str) -> list[dict[str, Any]]:
    documents = []
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        if isinstance(document, str):
            text = unquote(document)
            # moto returns a policy that CloudFormation gave as a mapping in Python's repr, not JSON.
            document = json.loads(text) if text.startswith('{"') else ast.literal_eval(text)
        documents.append(document)
    return documents


def _refuse_the_refusing_secret(params: dict[str, Any], **_: Any) -> None:
    """A delivery AWS refuses for now (throttled past every retry): the new key and its pending pair are
    removed again, so the undo's calls are recorded, and the account is marked for the retry run (a
    refusal only a person can mend, such as a secret scheduled for deletion, is not)."""
    if params.get("SecretId") == REFUSING:
        error = {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}
        raise ClientError(error, "PutSecretValue")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorded]:
    work = tmp_path_factory.mktemp("permissions")
    recorder = Recorder()
    original = botocore.session.Session.create_client

    def create_client(self: botocore.session.Session, *args: Any, **kwargs: Any) -> Any:
        client = original(self, *args, **kwargs)
        # The API parameters as the code passed them, on every client made during the run.
        client.meta.events.register("before-parameter-build.*.*", functools.partial(recorder.record, client))
        client.meta.events.register("after-call.sts.AssumeRole", recorder.assumed_role)
        client.meta.events.register("before-parameter-build.secretsmanager.PutSecretValue", _refuse_the_refusing_secret)
        return client

    github = GitHubStandIn({"octo/deploy"})  # a github: delivery reads its token from the central account
    with github, pytest.MonkeyPatch.context() as patch, mock_aws():
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "IKR_NOW", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
            patch.delenv(name, raising=False)
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",  # moto in process: see ARCHITECTURE's emulator facts
            "POWERTOOLS_METRICS_DISABLED": "true",
            "IKR_ALLOW_CLOCK_OVERRIDE": "1",  # moto in process, at AWS's own endpoints: the clock may travel
        }.items():
            patch.setenv(name, value)
        central = boto3.Session(region_name=REGION)
        spec = e2e_spec()
        spec.management_tags = {"IKR:ENABLED": "true"}
        spec.management_users = [
            UserSpec("ops", {"IKR:EMAIL": "ops@example.com"}),
            UserSpec("backup", {"IKR:EMAIL": "ops@example.com", "IKR:DELIVERY": "ssm:/ikr/backup/key"}),
            UserSpec("exporter", {"IKR:EMAIL": "ops@example.com", "IKR:DELIVERY": "secretsmanager:ikr/exporter"}),
            UserSpec("archiver", {"IKR:EMAIL": "ops@example.com", "IKR:DELIVERY": f"secretsmanager:{REFUSING}"}),
        ]
        # Machine users: their keys go to Secrets Manager and SSM under the delivery prefix.
        dev = next(account for account in spec.accounts if account.name == "dev")
        dev.users += [
            UserSpec("deployer", {"IKR:EMAIL": "ops@example.com", "IKR:DELIVERY": "secretsmanager:ikr/ci/deployer"}),
            UserSpec("nightly", {"IKR:EMAIL": "ops@example.com", "IKR:DELIVERY": "ssm:/ikr/jobs/nightly"}),
            UserSpec("archiver", {"IKR:EMAIL": "ops@example.com", "IKR:DELIVERY": f"secretsmanager:{REFUSING}"}),
            UserSpec("shipper", {"IKR:EMAIL": "ops@example.com", "IKR:DELIVERY": "github:octo/deploy"}),
        ]
        world = build_world(central, spec)
        central.client("secretsmanager").create_secret(Name=GITHUB_SECRET, SecretString=GITHUB_TOKEN)
        central.client("ses").verify_email_identity(EmailAddress=MAIL_FROM)
        central.client("s3").create_bucket(Bucket="ikr-artifacts")
        artifact = tiny_artifact(work / "ikr.zip")
        # moto 5.2 in process has no DescribeOrganizationsAccess (it raises NotImplementedError through
        # botocore): trusted access is taken as on here; AWS's answers are tested in test_deploy_checks.py.
        patch.setattr(CloudFormation, "organizations_access", lambda _self, _call_as: "ENABLED")
        # parse_args + the command itself, not main(): main routes the process's logging for a terminal.
        code = deploying.deploy(
            parser().parse_args(
                [
                    "deploy",
                    "--bucket=ikr-artifacts",
                    f"--artifact={artifact}",
                    f"--parameter=MailFrom={MAIL_FROM}",
                    f"--parameter=IkrExternalId={EXTERNAL_ID}",
                    "--parameter=ManageCentralAccount=true",
                    "--parameter=AccountFanOut=false",
                    f"--parameter=GithubTokenSecretName={GITHUB_SECRET}",
                    *(f"--target-ou={ou}" for ou in world.ou_ids.values()),
                ]
            )
        )
        assert code == 0
        from moto.dynamodb.models import dynamodb_backends

        # moto plays Lambda's stream trigger by running the destructor in Docker on every write and
        # then drops the records; there is no Docker here, so the test detaches it and plays
        # Lambda's part with the stream pump, as `make demo` does.
        table = dynamodb_backends[CENTRAL][REGION].get_table("ikr-expiry")
        table.lambda_event_source_mappings.clear()
        stream_arn = table.latest_stream_label and f"{table.table_arn}/stream/{table.latest_stream_label}"
        for name, value in {
            "MAIL_CLIENT": "ses",
            "MAIL_FROM": MAIL_FROM,
            "IAM_KEY_ROTATOR_TABLE": "ikr-expiry",
            "IKR_MEMBER_ROLE_NAME": "ikr-member",
            "IKR_EXTERNAL_ID": EXTERNAL_ID,
            # Old keys go inactive first (UpdateAccessKey), then are deleted two days later.
            "DEACTIVATE_BEFORE_DELETE_DAYS": "2",
            "GITHUB_TOKEN_SECRET_NAME": GITHUB_SECRET,
            "GITHUB_API_URL": github.url,
        }.items():
            patch.setenv(name, value)
        patch.setattr(botocore.session.Session, "create_client", create_client)

        recorder.phase = "rotator"
        run_rotation(build_services(load_settings(), purpose="rotate", now=DAY_100))
        # The archivers' throttled deliveries marked their accounts: the retry schedule's run (the rotator's role).
        retried = run_retries(build_services(load_settings(), purpose="rotate", now=DAY_100 + timedelta(minutes=5)))
        assert retried.accounts
        run_rotation(build_services(load_settings(), purpose="rotate", now=DAY_110))  # the sweep
        recorder.phase = "destructor"
        patch.setenv("IKR_NOW", DAY_110.isoformat())
        from handlers import destructor

        def as_destructor(event: dict[str, Any], context: Any) -> dict[str, Any]:
            recorder.phase = "destructor"
            try:
                return dict(destructor.handler(event, context))
            finally:
                recorder.phase = "stream"

        recorder.phase = "stream"
        checkpoint = Checkpoint(work / "checkpoint.json")
        result = pump(boto3.client("dynamodbstreams"), stream_arn, as_destructor, checkpoint)
        assert result.records > 0
        assert result.failed == 0
        # Two days later the deactivated old keys are swept again and deleted.
        recorder.phase = "rotator"
        run_rotation(build_services(load_settings(), purpose="rotate", now=DAY_113))
        patch.setenv("IKR_NOW", DAY_113.isoformat())
        recorder.phase = "stream"
        result = pump(boto3.client("dynamodbstreams"), stream_arn, as_destructor, checkpoint)
        assert result.failed == 0
        # Issue 18: a rotation asked for on demand, and an exposed key, on the rotator's role.
        recorder.phase = "setup"
        prod_id, dev_id = world.account_ids["prod"], world.account_ids["dev"]
        dev_keys = world.session(dev_id).client("iam").list_access_keys(UserName="dave")["AccessKeyMetadata"]
        (dave_key,) = (key["AccessKeyId"] for key in dev_keys)
        recorder.phase = "rotator"
        services = build_services(load_settings(), purpose="rotate", now=DAY_113)
        asked = rotate_on_demand(services, OnDemand(account_id=prod_id, user="bob", reason="permissions"))
        assert [user.outcome.value for user in asked.accounts[0].users] == ["rotated"]
        exposure = Exposure(
            account_id=dev_id, key_ids=(dave_key,), description="", event_id="e", event_arn="a", found_at="t"
        )
        assert [entry.outcome.value for entry in handle_exposure(services, exposure)] == ["rotated"]
        recorder.phase = "setup"

        iam = central.client("iam")
        stack = {
            r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in central.client("cloudformation").list_stack_resources(StackName="ikr-central")[
                "StackResourceSummaries"
            ]
        }
        central_policies = {
            logical: _documents(iam, stack[logical])
            for logical in ("RotatorRole", "AccountWorkerRole", "DestructorRole", "ReporterRole")
        }
        user_tags = {}
        for account_id in [CENTRAL, *world.account_ids.values()]:
            account_iam = (central if account_id == CENTRAL else world.session(account_id)).client("iam")
            for user in account_iam.list_users()["Users"]:
                tags = account_iam.list_user_tags(UserName=user["UserName"])["Tags"]
                user_tags[account_id, user["UserName"]] = {tag["Key"]: tag["Value"] for tag in tags}
        yield Recorded(
            calls=recorder.calls,
            world=world,
            org_id=central.client("organizations").describe_organization()["Organization"]["Id"],
            stream_arn=stream_arn,
            central_policies=central_policies,
            member_policies={
                account_id: _documents(world.session(account_id).client("iam"), "ikr-member")
                for account_id in world.account_ids.values()
            },
            user_tags=user_tags,
        )


def resource_of(call: Call, stream_arn: str) -> str:
    """The ARN IAM authorises the call against (what the Resource element must match)."""
    account, params = call.account, call.params
    service, _operation = call.action.split(":")
    if service == "iam":
        user = params.get("UserName")
        return (
            f"arn:aws:iam::{account}:user/{user}"
            if user
            else ("*" if "AccessKeyId" not in params else f"arn:aws:iam::{account}:user/*")
        )
    if service == "ssm":
        return f"arn:aws:ssm:{REGION}:{account}:parameter/{params['Name'].lstrip('/')}"
    if service == "dynamodb":
        if "IndexName" in params:  # a Query on an index is authorised against the index
            return f"arn:aws:dynamodb:{REGION}:{account}:table/{params['TableName']}/index/{params['IndexName']}"
        if "TableName" in params:
            return f"arn:aws:dynamodb:{REGION}:{account}:table/{params['TableName']}"
        return stream_arn  # the stream calls (DescribeStream, GetShardIterator, GetRecords, ListStreams)
    if service == "sts":
        return str(params.get("RoleArn", "*"))
    if service == "ses":
        return f"arn:aws:ses:{REGION}:{account}:identity/{params['Source']}"
    if service == "secretsmanager":
        # AWS appends -<6 random characters> to a secret's name in its ARN.
        return f"arn:aws:secretsmanager:{REGION}:{account}:secret:{params.get('SecretId') or params['Name']}-AbCdEf"
    if service == "events":  # PutEvents is authorised against the bus its entry names
        bus = str(params["Entries"][0].get("EventBusName") or "default")
        return bus if bus.startswith("arn:") else f"arn:aws:events:{REGION}:{account}:event-bus/{bus}"
    return "*"


def request_for(call: Call, recorded: Recorded) -> Request:
    context: dict[str, str | None] = {}
    if call.action.startswith("iam:") and "UserName" in call.params:
        for key, value in recorded.user_tags.get((call.account, call.params["UserName"]), {}).items():
            context[f"aws:ResourceTag/{key}"] = value
    if call.action == "sts:AssumeRole":
        context["aws:ResourceOrgID"] = recorded.org_id  # every account of the run is in the Organization
    if call.action == "events:PutEvents":
        context["events:source"] = call.params["Entries"][0]["Source"]
    return Request(call.action, resource_of(call, recorded.stream_arn), context=context)


def role_of(call: Call) -> str:
    if call.account != CENTRAL:
        return f"member in {call.account}"
    return {"rotator": "RotatorRole", "destructor": "DestructorRole", "stream": "DestructorRole"}[call.phase]


def policies_of(role: str, recorded: Recorded) -> list[dict[str, Any]]:
    if role.startswith("member in "):
        return recorded.member_policies[role.removeprefix("member in ")]
    return recorded.central_policies[role]


def granted_writes(policies: list[dict[str, Any]]) -> set[str]:
    actions: set[str] = set()
    for policy in policies:
        for statement in policy["Statement"]:
            if statement and statement["Effect"] == "Allow":
                wanted = statement["Action"]
                actions.update([wanted] if isinstance(wanted, str) else wanted)
    return {action for action in actions if action.split(":")[1].startswith(_WRITE_VERBS)}


def test_the_run_reached_member_accounts_and_the_central_account(recorded: Recorded) -> None:
    actions = {(call.account == CENTRAL, call.action) for call in recorded.calls}
    for wanted in (
        "iam:CreateAccessKey",
        "iam:UpdateAccessKey",
        "iam:DeleteAccessKey",
        "iam:GetAccessKeyLastUsed",
        "ssm:PutParameter",
        "ssm:DeleteParameter",
        "ssm:DeleteParameters",
    ):
        assert (False, wanted) in actions, wanted  # in member accounts
        assert (True, wanted) in actions, wanted  # the central account takes part (user ops)
    # a machine user's key goes into a new secret (PutSecretValue first finds none, then CreateSecret)
    for wanted in ("secretsmanager:PutSecretValue", "secretsmanager:CreateSecret"):
        assert (False, wanted) in actions, wanted
        assert (True, wanted) in actions, wanted
    assert (True, "sts:AssumeRole") in actions
    assert (True, "organizations:ListRoots") in actions
    # On demand and the exposed key: their account looked up directly, not by a walk of the tree.
    for wanted in (
        "organizations:DescribeAccount",
        "organizations:ListParents",
        "organizations:DescribeOrganizationalUnit",
    ):
        assert (True, wanted) in actions, wanted
    assert (True, "ses:SendEmail") in actions
    assert (True, "dynamodb:Query") in actions  # the retry run's one read, on the due-retries index
    assert (True, "secretsmanager:GetSecretValue") in actions  # the GitHub token, read once for the github: user
    assert (True, "events:PutEvents") in actions  # the lifecycle events on the default bus


def test_every_recorded_call_is_allowed_by_its_role(recorded: Recorded) -> None:
    refused = sorted(
        {
            f"{role_of(call)}: {call.action} on {request_for(call, recorded).resource}"
            for call in recorded.calls
            if call.action not in _FREE
            and evaluate(policies_of(role_of(call), recorded), request_for(call, recorded)) != "Allow"
        }
    )
    assert not refused, "the templates do not grant:\n" + "\n".join(refused)


def test_the_tag_condition_really_guards_key_writes(recorded: Recorded) -> None:
    """The same CreateAccessKey on an untagged user of the same account is refused."""
    create = next(c for c in recorded.calls if c.action == "iam:CreateAccessKey" and c.account != CENTRAL)
    untagged = Call(create.phase, create.account, create.action, {"UserName": "untagged"})
    policies = recorded.member_policies[create.account]
    assert evaluate(policies, request_for(create, recorded)) == "Allow"
    assert evaluate(policies, request_for(untagged, recorded)) == "ImplicitDeny"


def test_no_write_is_granted_that_nothing_calls(recorded: Recorded) -> None:
    called_member = {call.action for call in recorded.calls if call.account != CENTRAL}
    called_central = {call.action for call in recorded.calls if call.account == CENTRAL}
    unexplained = set(GRANTED_AHEAD_OF_CODE) | set(CALLED_BY_AWS)
    member_granted = set().union(*(granted_writes(p) for p in recorded.member_policies.values()))
    member_unused = member_granted - called_member - unexplained
    central_granted = set().union(*(granted_writes(p) for p in recorded.central_policies.values()))
    central_unused = central_granted - called_central - unexplained
    assert not member_unused, f"member role grants writes nothing calls: {sorted(member_unused)}"
    assert not central_unused, f"central roles grant writes nothing calls: {sorted(central_unused)}"


def test_allow_lists_hold_nothing_the_code_already_proves(recorded: Recorded) -> None:
    """When the work named in GRANTED_AHEAD_OF_CODE lands, its entry must go (the recording proves it)."""
    called = {call.action for call in recorded.calls}
    assert not (called & set(GRANTED_AHEAD_OF_CODE)), sorted(called & set(GRANTED_AHEAD_OF_CODE))
