"""A Lambda execution environment serves invocation after invocation in one process: the handlers
build the central account's session and clients once and reuse them (and the member sessions) while
the settings stay the same, rebuild them when the settings change, and keep the clock per invocation.
Member credentials refresh themselves before they expire; the kept member sessions are bounded."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import botocore.session
import pytest

from central.aws import clients as aws
from central.aws.expiry_table import ExpiryTable
from central.aws.sessions import SessionBroker
from central.aws.stream_pump import LocalLambdaContext
from central.domain.errors import AccountAccessError
from central.domain.model import Account
from central.domain.scope import resolve
from central.rotation.account_queue import AccountMessage
from central.rotation.run import AccountWork
from central.settings import Settings
from central.wiring import warm_services
from handlers import account_worker, destructor, reporter, rotator
from tests.integration.conftest import TABLE, default_spec
from tests.integration.faults import Faults
from tests.integration.fixtures_extra import LATER
from tests.support.world import World, build_world

MEMBER_A, MEMBER_B, MEMBER_C = "210987654321", "310987654321", "410987654321"
BUCKET = "ikr-reports-warm"
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")  # empty batches
CENTRAL_SERVICES = {"dynamodb", "ses", "sts", "organizations", "s3", "sqs"}  # member sessions make iam, ssm


@pytest.fixture
def counts(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Clients made, by service, and botocore sessions made ("session")."""
    counts: Counter[str] = Counter()
    create_client = botocore.session.Session.create_client
    session_init = botocore.session.Session.__init__

    def counted_client(self: botocore.session.Session, service_name: str, *args: Any, **kwargs: Any) -> Any:
        counts[service_name] += 1
        return create_client(self, service_name, *args, **kwargs)

    def counted_session(self: botocore.session.Session, *args: Any, **kwargs: Any) -> None:
        counts["session"] += 1
        session_init(self, *args, **kwargs)

    monkeypatch.setattr(botocore.session.Session, "create_client", counted_client)
    monkeypatch.setattr(botocore.session.Session, "__init__", counted_session)
    return counts


@pytest.fixture
def lambda_env(central: boto3.Session, monkeypatch: pytest.MonkeyPatch) -> World:
    world = build_world(central, default_spec())
    for account_id in world.account_ids.values():  # a fresh credential report: nothing to wait for
        world.session(account_id).client("iam").generate_credential_report()
    ExpiryTable(central.client("dynamodb"), TABLE).create()
    central.client("ses").verify_email_identity(EmailAddress="ikr@example.com")
    central.client("s3").create_bucket(Bucket=BUCKET)
    for name, value in {
        "MAIL_FROM": "ikr@example.com",
        "IAM_KEY_ROTATOR_TABLE": TABLE,
        "IKR_NOW": LATER.isoformat(),
        "IKR_REPORT_BUCKET": BUCKET,
    }.items():
        monkeypatch.setenv(name, value)
    return world


def _account_record(world: World, name: str, message_id: str) -> dict[str, Any]:
    """The rotator's message for one account, as the rotator's own code writes it."""
    scope = resolve(Account(id=world.account_ids[name], name=name), 60, 3, standalone=True)
    body = AccountMessage.for_work(AccountWork(scope=scope, now=LATER, run_id="warm-run")).body()
    return {"messageId": message_id, "receiptHandle": message_id, "body": body, "attributes": {}}


def _invocations(world: World) -> dict[str, Callable[[], Any]]:
    def context(name: str) -> LocalLambdaContext:
        return LocalLambdaContext(function_name=name)

    return {
        "rotator": lambda: rotator.handler({"source": "aws.events"}, context("ikr-rotator")),
        "account_worker": lambda: account_worker.handler(
            {"Records": [_account_record(world, "dev", "m-1")]}, context("ikr-account-worker")
        ),
        "destructor": lambda: destructor.handler({"Records": []}, context("ikr-destructor")),
        "reporter": lambda: reporter.handler({"source": "aws.events"}, context("ikr-reporter")),
    }


@pytest.mark.parametrize("handler", ["rotator", "account_worker", "destructor", "reporter"])
def test_two_invocations_of_a_handler_build_the_central_clients_once(
    handler: str, lambda_env: World, counts: Counter[str]
):
    invoke = _invocations(lambda_env)[handler]

    invoke()
    first = Counter(counts)
    counts.clear()
    invoke()

    central = {service: n for service, n in first.items() if service in CENTRAL_SERVICES}
    assert central, "the first invocation builds the central clients"
    assert all(n == 1 for n in central.values()), central  # one client per service
    assert first["session"] >= 1
    # The warm invocation builds nothing: no session, no central client, no member session or client.
    assert counts == Counter(), counts


def test_the_account_worker_assumes_into_an_account_once_across_invocations(
    lambda_env: World, monkeypatch: pytest.MonkeyPatch
):
    faults = Faults(monkeypatch)
    invoke = _invocations(lambda_env)["account_worker"]

    invoke()
    invoke()

    assert [call.operation for call in faults.calls].count("AssumeRole") == 1
    assert [call.operation for call in faults.calls].count("GetCallerIdentity") == 1  # the central id, once


def test_changed_settings_or_aws_environment_rebuild_and_the_clock_follows_each_invocation(
    lambda_env: World, counts: Counter[str], monkeypatch: pytest.MonkeyPatch
):
    invoke = _invocations(lambda_env)["destructor"]
    invoke()
    assert counts["dynamodb"] == 1

    # IKR_NOW alone is the clock's: read per invocation, nothing rebuilt
    monkeypatch.setenv("IKR_NOW", (LATER + timedelta(days=1)).isoformat())
    invoke()
    assert counts["dynamodb"] == 1

    # any other setting rebuilds (here the retry settings every client is made with)
    monkeypatch.setenv("IKR_AWS_MAX_ATTEMPTS", "3")
    invoke()
    assert counts["dynamodb"] == 2

    # and so does the AWS environment botocore reads (credentials, region, endpoints)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    invoke()
    assert counts["dynamodb"] == 3


def test_warm_services_give_each_invocation_its_own_clock_on_the_kept_foundation():
    first_now, second_now = datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 2, 1, tzinfo=UTC)
    values = {"MAIL_FROM": "ikr@example.com", "IKR_ALLOW_CLOCK_OVERRIDE": True}
    first = warm_services(Settings.model_validate({**values, "IKR_NOW": first_now}), purpose="destroy")
    second = warm_services(Settings.model_validate({**values, "IKR_NOW": second_now}), purpose="destroy")
    other_purpose = warm_services(Settings.model_validate(values), purpose="report", changes_keys=False)

    assert first.clock() == first_now
    assert second.clock() == second_now
    assert second.settings.model_dump()["IKR_NOW"] == second_now  # the invocation's own settings
    assert second.broker is first.broker
    assert second.table is first.table
    assert second.central is first.central
    assert other_purpose.broker is not first.broker  # another purpose: another session name in CloudTrail


class TurnedClock:
    """The real clock, turned forward by `ahead`."""

    def __init__(self) -> None:
        self.ahead = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.ahead


def test_member_credentials_are_refreshed_with_assume_role_before_they_expire(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch
):
    faults = Faults(monkeypatch)
    clock = TurnedClock()
    broker = SessionBroker(central, "ikr-member", external_id="org-secret-id", now=clock)
    member = broker.session_for(MEMBER_A)
    sts = aws.sts(member)
    credentials = member.get_credentials()
    assert credentials is not None
    before = credentials.get_frozen_credentials().access_key

    def assumed() -> list[dict[str, Any]]:
        return [call.params for call in faults.calls if call.operation == "AssumeRole"]

    # moto's credentials last an hour; 40 minutes on, 20 remain: no refresh
    clock.ahead = timedelta(minutes=40)
    assert sts.get_caller_identity()["Account"] == MEMBER_A
    assert len(assumed()) == 1

    # 55 minutes on, 5 remain: AssumeRole again, with the same role, ExternalId and session name
    clock.ahead = timedelta(minutes=55)
    assert sts.get_caller_identity()["Account"] == MEMBER_A  # the same client, new credentials
    assert len(assumed()) == 2
    assert assumed()[1] == assumed()[0]
    assert credentials.get_frozen_credentials().access_key != before
    assert broker.session_for(MEMBER_A) is member  # the session itself is kept


def test_a_refused_refresh_fails_the_accounts_call_only_when_the_credentials_are_nearly_gone(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch
):
    faults = Faults(monkeypatch)
    clock = TurnedClock()
    broker = SessionBroker(central, "ikr-member", now=clock)
    sts = aws.sts(broker.session_for(MEMBER_A))
    faults.refuse("AssumeRole", code="AccessDenied", message="role removed")

    # 12 minutes left: botocore tries to refresh, is refused, and goes on with the credentials it has
    clock.ahead = timedelta(minutes=48)
    assert sts.get_caller_identity()["Account"] == MEMBER_A

    # 5 minutes left: the refusal is the account's failure, naming the role
    clock.ahead = timedelta(minutes=55)
    with pytest.raises(AccountAccessError, match=f"arn:aws:iam::{MEMBER_A}:role/ikr-member.*AccessDenied"):
        sts.get_caller_identity()


def test_kept_member_sessions_are_bounded_and_a_released_account_goes_first(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch
):
    faults = Faults(monkeypatch)
    broker = SessionBroker(central, "ikr-member", keep=2)

    a, b = broker.session_for(MEMBER_A), broker.session_for(MEMBER_B)
    broker.release(MEMBER_B)  # B's work is done: first to go, though A was wanted earlier
    broker.session_for(MEMBER_C)  # a third: one must go

    assert broker.session_for(MEMBER_A) is a
    assert broker.session_for(MEMBER_B) is not b  # assumed again
    assert [call.operation for call in faults.calls].count("AssumeRole") == 4
