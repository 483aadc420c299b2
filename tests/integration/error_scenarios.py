"""The error matrix's scenarios: each drives one real entry point (`ikr` in process, a Lambda handler)
on moto in process, over a small world, and says afterwards whether anything was lost.

A scenario is set up (`prepare`), run once (`run`), and judged (`lost`): what the run printed and
logged comes back as an `Outcome`; `lost` names every key deleted that should have stayed and every
key made but recorded nowhere. The order of `SCENARIOS` is the order of preference when several
reach one operation (the cheapest first).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import botocore.handlers
import pytest
from botocore.awsrequest import AWSResponse
from botocore.model import OperationModel

from central.aws import walk_position
from central.aws.errors import CONDITION_CODES, NOT_FOUND_CODES
from central.aws.expiry_item import ExpiryItem, State, epoch
from central.aws.expiry_table import ExpiryTable
from central.aws.reminders import is_reminder
from central.aws.retry_marks import is_mark
from central.aws.ssm_secrets import parameter_name, pending_name
from central.aws.stream_pump import LocalLambdaContext
from central.cli.main import main
from central.domain import crypto
from central.rotation.account_work import STOP_WITH_MS_LEFT
from handlers import destructor, reporter, rotator
from tests.deploy.conftest import tiny_artifact
from tests.integration.conftest import TABLE
from tests.integration.destroy_scene import MEMBER, NOW, Scene, build_scene
from tests.integration.fixtures_extra import LATER
from tests.integration.test_destructor import record
from tests.support.ci_standins import GITHUB_TOKEN, GitHubStandIn
from tests.support.error_matrix import Case
from tests.support.world import AccountSpec, OrgSpec, UserSpec, World, build_world

MAIL_FROM = "ikr@example.com"
CI_REPO, CI_TOKEN_SECRET = "octo/app", "ikr/github-token"
_GITHUB = {"IKR:DELIVERY": f"github:{CI_REPO}"}
ADMIN = "secops@example.com"
BUCKET = "ikr-reports-matrix"
QUEUE = "ikr-accounts-matrix"
SPEC = OrgSpec(
    ous={"Work": {"IKR:ENABLED": "true", "IKR:ROTATE_AFTER_DAYS": "60"}},
    accounts=[
        AccountSpec(
            "prod",
            "Work",
            {},
            [
                UserSpec("alice", {"IKR:EMAIL": "alice@example.com"}),
                UserSpec(
                    "deployer", {"IKR:EMAIL": "platform@example.com", "IKR:DELIVERY": "secretsmanager:ikr/ci/deployer"}
                ),
                UserSpec("builder", {"IKR:EMAIL": "platform@example.com", "IKR:DELIVERY": "ssm:/ikr/ci/builder"}),
            ],
        )
    ],
)

# Answers about the state of things (it is not there; someone else changed it first) that ikr rightly
# acts on: injected, they contradict the emulator's state, so a key the answer calls gone may stay.
STATE_ANSWERS = NOT_FOUND_CODES | CONDITION_CODES


@dataclass
class Outcome:
    exit_code: int | None = None  # the CLI's; None for a handler
    response: Any = None  # a handler's
    raised: BaseException | None = None  # what escaped the entry point
    shown: list[str] = field(default_factory=list)  # stdout, stderr and ikr's log records from INFO up
    logged: list[str] = field(default_factory=list)  # every other log record (DEBUG, the SDK's, moto's)

    @property
    def lines(self) -> list[str]:
        return [*self.shown, *self.logged]

    def text(self) -> str:
        return "\n".join(self.lines)


class Scenario:
    name = ""
    costly = False  # seconds a case: the suite's sample takes one error per operation it alone reaches
    names: tuple[str, ...] = ()  # accounts, users, resources a message may name

    def __init__(
        self,
        central: boto3.Session,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture,
        tmp: Path,
    ) -> None:
        self.tmp = tmp
        self.central = central
        self.monkeypatch = monkeypatch
        self.capsys = capsys
        self.caplog = caplog
        self.keys_before: dict[tuple[str, str], set[str]] = {}

    def prepare(self) -> None:
        raise NotImplementedError

    def run(self) -> Outcome:
        raise NotImplementedError

    def lost(self, outcome: Outcome, case: Case | None = None) -> list[str]:
        raise NotImplementedError

    def exits(self, case: Case) -> tuple[int, ...]:
        """The exit codes the entry point documents for this error: 0 all well, 1 something failed."""
        return (0, 1)

    # -- shared steps ---------------------------------------------------------------------------------
    def environment(self, **values: str) -> None:
        for name, value in {
            "MAIL_CLIENT": "ses",
            "MAIL_FROM": MAIL_FROM,
            "ADMIN_EMAIL": ADMIN,
            "IAM_KEY_ROTATOR_TABLE": TABLE,
            "IKR_ALLOW_CLOCK_OVERRIDE": "1",
            "IKR_AWS_MAX_ATTEMPTS": "2",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "ikr-matrix",
            **values,
        }.items():
            self.monkeypatch.setenv(name, value)

    def table(self) -> ExpiryTable:
        return ExpiryTable(self.central.client("dynamodb"), TABLE)

    def items(self) -> list[ExpiryItem]:
        """The expiry items: not the accounts' retry marks, the reminders sent nor the rotator's walk
        position, which share the table and are no expiry items."""
        raw = self.central.client("dynamodb").scan(TableName=TABLE, ConsistentRead=True)["Items"]
        return [
            ExpiryItem.from_item(item)
            for item in raw
            if not is_mark(item) and not is_reminder(item) and item.get("account_id") != {"S": walk_position.PARTITION}
        ]

    def capture(self, call: Callable[[], Any]) -> Outcome:
        """Run the entry point; what it returned or raised, printed and logged."""
        self.caplog.clear()
        self.caplog.set_level(logging.DEBUG)
        self.capsys.readouterr()
        outcome = Outcome()
        try:
            outcome.response = call()
        except Exception as exc:  # whatever escapes the entry point is judged, not raised
            outcome.raised = exc
        captured = self.capsys.readouterr()
        outcome.shown = [*captured.out.splitlines(), *captured.err.splitlines()]
        for rec in self.caplog.records:
            fields = {k: v for k, v in rec.__dict__.items() if k not in ("msg", "args", "exc_info", "exc_text")}
            ikr = rec.name.split(".")[0] == "ikr" and rec.levelno >= logging.INFO  # what an operator reads
            lines = outcome.shown if ikr else outcome.logged
            lines.append(f"{rec.getMessage()} {json.dumps(fields, default=str)}")
            if rec.exc_info:
                lines.append(logging.Formatter().formatException(rec.exc_info))
        return outcome


class _WorldScenario(Scenario):
    """An Organization with one opted-in account whose three users are due (mail, a secret, a parameter)."""

    world: World
    spec: OrgSpec = SPEC

    def prepare(self) -> None:
        self.world = build_world(self.central, self.spec)
        self.table().create()
        self.central.client("ses").verify_email_identity(EmailAddress=MAIL_FROM)
        account_id = self.world.account_ids["prod"]
        nodes = (self.world.root_id, *self.world.ou_ids.values(), self.world.management_id, "the Organization")
        self.names = (account_id, "alice", "deployer", "builder", TABLE, "ikr/ci/deployer", "/ikr/ci/builder", *nodes)
        self.keys_before = self._keys()

    def _keys(self) -> dict[tuple[str, str], set[str]]:
        account_id = self.world.account_ids["prod"]
        iam = self.world.session(account_id).client("iam")
        return {
            (account_id, user.name): {
                meta["AccessKeyId"] for meta in iam.list_access_keys(UserName=user.name)["AccessKeyMetadata"]
            }
            for user in self.spec.accounts[0].users
        }

    def lost(self, outcome: Outcome, case: Case | None = None) -> list[str]:
        """Rotation deletes no key it found; a key it made is recorded in the table, or gone again."""
        problems = []
        recorded = {key for item in self.items() for key in (item.new_key_id, item.old_key_id) if key}
        for (account_id, user), after in self._keys().items():
            before = self.keys_before[(account_id, user)]
            problems += [f"{account_id} {user}: key {key} was deleted" for key in sorted(before - after)]
            problems += [
                f"{account_id} {user}: key {key} made but recorded nowhere" for key in sorted(after - before - recorded)
            ]
        return problems


class Rotate(_WorldScenario):
    """`ikr rotate`: discovery, the sweep, rotation with mail (SES), a secret and a parameter."""

    name = "rotate"

    def prepare(self) -> None:
        super().prepare()
        self.environment(ENCRYPT_KEY_PAIR="true")
        # An old key of an account outside the scan whose time is up: the rotator's sweep removes it.
        overdue = ExpiryItem(
            account_id=MEMBER,
            user_name="gone",
            old_key_id="AKIAOVERDUE000000000",
            state=State.SCHEDULED,
            started_at=epoch(LATER - timedelta(days=10)),
            new_key_id="AKIAOVERDUENEW000000",
            expires_at=epoch(LATER - timedelta(days=1)),
        )
        self.table().put(overdue)

    def run(self) -> Outcome:
        outcome = self.capture(lambda: main(["rotate", "--now", LATER.isoformat()]))
        outcome.exit_code = outcome.response
        return outcome


class Report(_WorldScenario):
    """The reporter Lambda: the report to S3, the summary to the administrator."""

    name = "report"

    def prepare(self) -> None:
        super().prepare()
        self.central.client("s3").create_bucket(Bucket=BUCKET)
        self.names = (*self.names, BUCKET)
        self.environment(IKR_REPORT_BUCKET=BUCKET, IKR_NOW=LATER.isoformat())

    def run(self) -> Outcome:
        reporter.metrics.clear_metrics()
        return self.capture(lambda: reporter.handler({"source": "aws.events"}, LocalLambdaContext(function_name="r")))


class Queue(_WorldScenario):
    """The rotator Lambda with the account queue: discovery, one message per account."""

    name = "queue"

    def prepare(self) -> None:
        super().prepare()
        url = self.central.client("sqs").create_queue(QueueName=QUEUE)["QueueUrl"]
        self.names = (*self.names, QUEUE, url)
        self.environment(IKR_ACCOUNT_QUEUE_URL=url, IKR_NOW=LATER.isoformat())

    def run(self) -> Outcome:
        event = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
        return self.capture(lambda: rotator.handler(event, LocalLambdaContext(function_name="ikr-rotator")))


class Destroy(Scenario):
    """The destructor Lambda on a REMOVE record: the old key and its parameter deleted."""

    name = "destroy"
    scene: Scene

    def prepare(self) -> None:
        self.scene = build_scene(self.central)
        self.central.client("ses").verify_email_identity(EmailAddress=MAIL_FROM)
        self.names = (self.scene.account_id, "dave", self.scene.old, TABLE)
        self.environment(IKR_NOW=NOW.isoformat())

    def run(self) -> Outcome:
        event = {"Records": [record("REMOVE", self.scene.removed(self.scene.item))]}
        return self.capture(lambda: destructor.handler(event, LocalLambdaContext(function_name="ikr-destructor")))

    def lost(self, outcome: Outcome, case: Case | None = None) -> list[str]:
        """The new key stays; the old one is deleted, or kept and handed over again: its item back in
        the table, or the record reported failed (or the invocation failed) so Lambda retries it."""
        keys = self.scene.access_keys()
        problems = [] if self.scene.new in keys else [f"dave: new key {self.scene.new} was deleted"]
        if case is not None and case.code in STATE_ANSWERS:
            return problems  # AWS said the key is gone, or another invocation has the item: believed
        if self.scene.old in keys and not self._comes_back(outcome):
            problems.append(f"dave: old key {self.scene.old} kept, but nothing brings its deletion back")
        return problems

    def _comes_back(self, outcome: Outcome) -> bool:
        failed = outcome.exit_code == 1 or outcome.raised is not None  # the record is read again
        if failed or (isinstance(outcome.response, dict) and outcome.response.get("batchItemFailures")):
            return True
        return any(item.old_key_id == self.scene.old and item.state.value != "retired" for item in self.items())


class Retire(Destroy):
    """The destructor Lambda with DEACTIVATE_BEFORE_DELETE_DAYS: the old key made inactive first."""

    name = "retire"

    def prepare(self) -> None:
        super().prepare()
        self.environment(IKR_NOW=NOW.isoformat(), DEACTIVATE_BEFORE_DELETE_DAYS="2")


class Pump(Destroy):
    """`ikr stream-pump`: the table's stream read as Lambda would, handed to the destructor's batch."""

    name = "pump"

    def prepare(self) -> None:
        super().prepare()
        self.scene.table.put(self.scene.item)
        self.pump()  # a first pass reads the item's INSERT (nothing to do) and places the checkpoint

    def pump(self) -> Outcome:
        checkpoint = self.tmp / "checkpoint.json"
        outcome = self.capture(lambda: main(["stream-pump", "--checkpoint", str(checkpoint), "--now", NOW.isoformat()]))
        outcome.exit_code = outcome.response
        return outcome

    def run(self) -> Outcome:
        self.scene.removed(self.scene.item)
        return self.pump()


class TagUsers(_WorldScenario):
    """`ikr tag-users`: tags from a file onto member accounts' users."""

    name = "tag-users"

    def prepare(self) -> None:
        super().prepare()
        self.environment()
        self.file = self.tmp / "tags.json"
        tags = {"IKR:EMAIL": "alice@example.com", "IKR:ROTATE_AFTER_DAYS": "30"}
        self.file.write_text(json.dumps({self.world.account_ids["prod"]: {"alice": tags}}), encoding="utf-8")

    def run(self) -> Outcome:
        outcome = self.capture(lambda: main(["tag-users", str(self.file)]))
        outcome.exit_code = outcome.response
        return outcome


class Bootstrap(Scenario):
    """`ikr bootstrap`: the expiry table with its stream and TTL."""

    name = "bootstrap"

    def prepare(self) -> None:
        self.names = (TABLE,)
        self.environment()

    def run(self) -> Outcome:
        outcome = self.capture(lambda: main(["bootstrap"]))
        outcome.exit_code = outcome.response
        return outcome

    def lost(self, outcome: Outcome, case: Case | None = None) -> list[str]:
        return []


class CiDelivery(_WorldScenario):
    """`ikr rotate` for a user whose key goes to GitHub Actions secrets: the token read from the central
    account's Secrets Manager, the pair written to a stand-in of GitHub's API."""

    name = "ci-delivery"
    spec = OrgSpec(
        ous={"Work": {"IKR:ENABLED": "true", "IKR:ROTATE_AFTER_DAYS": "60"}},
        accounts=[
            AccountSpec("prod", "Work", {}, [UserSpec("gh-bot", {"IKR:EMAIL": "platform@example.com", **_GITHUB})])
        ],
    )

    def prepare(self) -> None:
        super().prepare()
        self.github = GitHubStandIn({CI_REPO})
        self.central.client("secretsmanager").create_secret(Name=CI_TOKEN_SECRET, SecretString=GITHUB_TOKEN)
        self.environment(GITHUB_TOKEN_SECRET_NAME=CI_TOKEN_SECRET, GITHUB_API_URL=self.github.url)
        self.names = (self.world.account_ids["prod"], "gh-bot", CI_REPO, CI_TOKEN_SECRET, TABLE)

    def run(self) -> Outcome:
        try:
            outcome = self.capture(lambda: main(["rotate", "--now", LATER.isoformat()]))
        finally:
            self.github.stop()
        outcome.exit_code = outcome.response
        return outcome


class Relaunch(Queue):
    """The rotator Lambda with the account queue and little time left: it stops its walk and invokes
    itself again to go on (`central.aws.relaunch`)."""

    name = "relaunch"

    def run(self) -> Outcome:
        event = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
        context = _ShortOfTime(function_name="ikr-rotator")
        self.names = (*self.names, context.function_name)
        return self.capture(lambda: rotator.handler(event, context))


class _ShortOfTime(LocalLambdaContext):
    def get_remaining_time_in_millis(self) -> int:
        return STOP_WITH_MS_LEFT - 1


def _named_account_exits(case: Case) -> tuple[int, ...]:
    """`ikr rotate --account A` looks A up (DescribeAccount): Organizations saying there is no such
    account is the refusal "... not an ACTIVE account of this Organization" (README), exit 2, the
    request's fault; anything else 0 or 1."""
    refused = case.operation == "organizations:DescribeAccount" and case.code in NOT_FOUND_CODES
    return (0, 1, 2) if refused else (0, 1)


class Resume(_WorldScenario):
    """`ikr rotate` meeting a rotation an earlier run left half-way, its lease long expired: undone
    (the pending parameter removed with DeleteParameter), then the user rotated afresh."""

    name = "resume"

    def prepare(self) -> None:
        super().prepare()
        self.environment(ENCRYPT_KEY_PAIR="true")
        account_id = self.world.account_ids["prod"]
        (old,) = self.keys_before[(account_id, "alice")]
        interrupted = ExpiryItem(
            account_id=account_id,
            user_name="alice",
            email="alice@example.com",
            old_key_id=old,
            state=State.STARTED,
            started_at=epoch(LATER - timedelta(days=2)),
            run_id="an-earlier-run",
            lease_until=epoch(LATER - timedelta(days=2) + timedelta(minutes=15)),
        )
        self.table().put(interrupted)
        self.world.session(account_id).client("ssm").put_parameter(
            Name=pending_name("alice"), Value="left by the earlier run", Type="SecureString"
        )
        self.names = (*self.names, pending_name("alice"))

    def exits(self, case: Case) -> tuple[int, ...]:
        return _named_account_exits(case)

    def run(self) -> Outcome:
        outcome = self.capture(lambda: main(["rotate", "--now", LATER.isoformat(), "--account", self._account()]))
        outcome.exit_code = outcome.response
        return outcome

    def _account(self) -> str:
        return self.world.account_ids["prod"]


class Decrypt(_WorldScenario):
    """`ikr decrypt`: a mailed ciphertext read back with the user's key from the member account's SSM."""

    name = "decrypt"

    def prepare(self) -> None:
        super().prepare()
        self.environment()
        account_id = self.world.account_ids["prod"]
        key = crypto.new_key()
        self.world.session(account_id).client("ssm").put_parameter(
            Name=parameter_name("alice"), Value=key, Type="SecureString"
        )
        self.ciphertext = crypto.encrypt(key, "AKIAMATRIXDECRYPT000")
        self.names = (*self.names, parameter_name("alice"))

    def exits(self, case: Case) -> tuple[int, ...]:
        # No such parameter: the user has no key there (README "Decrypting"): exit 2, the input's fault.
        return (0, 1, 2) if case.code in NOT_FOUND_CODES else (0, 1)

    def run(self) -> Outcome:
        account_id = self.world.account_ids["prod"]
        outcome = self.capture(lambda: main(["decrypt", "--user", "alice", "--account", account_id, self.ciphertext]))
        outcome.exit_code = outcome.response
        return outcome


class OnDemandRotate(_WorldScenario):
    """`ikr rotate --now-due` for one user: the account looked up directly (DescribeAccount, ListParents
    up to the root, each OU's name and tags), then the user rotated as a scheduled rotation is."""

    name = "on-demand"

    def prepare(self) -> None:
        super().prepare()
        self.environment(ENCRYPT_KEY_PAIR="true")

    def exits(self, case: Case) -> tuple[int, ...]:
        return _named_account_exits(case)

    def run(self) -> Outcome:
        account_id = self.world.account_ids["prod"]
        outcome = self.capture(
            lambda: main(["rotate", "--account", account_id, "--user", "alice", "--now-due", "--reason", "matrix"])
        )
        outcome.exit_code = outcome.response
        return outcome


class Deploy(_WorldScenario):
    """`ikr deploy`: its checks, the artifact upload, the central stack's change set, the StackSet."""

    name = "deploy"
    costly = True  # a whole CloudFormation deployment on the emulator
    bucket = "ikr-deploy-matrix"

    def prepare(self) -> None:
        super().prepare()
        self.environment()
        self.central.client("s3").create_bucket(Bucket=self.bucket)
        self.artifact = tiny_artifact(self.tmp / "ikr-lambda.zip")
        self.names = (*self.names, self.bucket, "ikr-central", "ikr-member-role", "ikr-lambda.zip")
        # After the injection among botocore's handlers, so an injected error still wins.
        handlers = [*botocore.handlers.BUILTIN_HANDLERS, ("before-call", _answer_what_moto_lacks)]
        self.monkeypatch.setattr(botocore.handlers, "BUILTIN_HANDLERS", handlers)

    def run(self) -> Outcome:
        outcome = self.capture(lambda: main(self.arguments()))
        outcome.exit_code = outcome.response
        return outcome

    def arguments(self) -> list[str]:
        return [
            "deploy",
            "--bucket",
            self.bucket,
            "--artifact",
            str(self.artifact),
            "--parameter",
            f"MailFrom={MAIL_FROM}",
            "--parameter",
            "IkrExternalId=ikr-matrix-external-id",
            "--target-ou",
            self.world.ou_ids["Work"],
        ]

    def lost(self, outcome: Outcome, case: Case | None = None) -> list[str]:
        return super().lost(outcome, case)  # deploying touches no key: every one is still there


class DeployDryRun(Deploy):
    """`ikr deploy --dry-run` on a fresh account: the change set shown, then removed with its empty stack."""

    name = "deploy-dry-run"

    def arguments(self) -> list[str]:
        return [*super().arguments(), "--dry-run"]


class Redeploy(Deploy):
    """`ikr deploy` again over a deployed system: no change to the stack, the StackSet updated."""

    name = "redeploy"

    def prepare(self) -> None:
        super().prepare()
        first = self.capture(lambda: main(self.arguments()))
        assert first.response == 0, first.text()


# AWS's answers to the two calls of `ikr deploy`'s checks that moto in process does not implement (it
# raises NotImplementedError): a new account's quota with room, and StackSets' trusted access on.
_MOTO_LACKS: dict[str, dict[str, Any]] = {
    "lambda:GetAccountSettings": {
        "AccountLimit": {"ConcurrentExecutions": 1000, "UnreservedConcurrentExecutions": 1000},
        "AccountUsage": {"TotalCodeSize": 0, "FunctionCount": 0},
    },
    "cloudformation:DescribeOrganizationsAccess": {"Status": "ENABLED"},
}


def _answer_what_moto_lacks(model: OperationModel, **_: Any) -> Any:
    parsed = _MOTO_LACKS.get(f"{model.service_model.service_name}:{model.name}")
    if parsed is None:
        return None
    answer = {**parsed, "ResponseMetadata": {"HTTPStatusCode": 200, "RequestId": "error-matrix-stand-in"}}
    return AWSResponse("https://error-matrix.invalid/", 200, {}, None), answer


SCENARIOS: dict[str, type[Scenario]] = {
    scenario.name: scenario
    for scenario in (
        Bootstrap,
        Destroy,
        Retire,
        TagUsers,
        Decrypt,
        Rotate,
        Resume,
        CiDelivery,
        Report,
        Queue,
        Relaunch,
        Pump,
        DeployDryRun,
        Deploy,
        Redeploy,
        OnDemandRotate,  # last: chosen only for the operations of the direct account lookup
    )
}
