"""moto in process: a whole Organization in one mock, member accounts reached through AssumeRole."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest
from moto import mock_aws

from central.aws.expiry_table import ExpiryTable
from central.aws.sessions import SessionBroker
from central.clock import system_clock
from central.collaborators import Services
from central.notify.mailers.base import Mail, Mailer
from central.settings import Settings
from tests.support.world import AccountSpec, OrgSpec, UserSpec, World, build_world

TABLE = "ikr-expiry-test"


class RecordingMailer(Mailer):
    """Keeps what was sent; fails on demand, as a mail system that is down."""

    name = "recording"

    def __init__(self) -> None:
        self.sent: list[Mail] = []
        self.down = False

    def send(self, mail: Mail) -> None:
        from central.domain.errors import DeliveryError

        if self.down:
            raise DeliveryError(f"mail system down for {mail.to}")
        self.sent.append(mail)


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "IKR_NOW", "AWS_LAMBDA_FUNCTION_NAME", "AWS_EXECUTION_ENV"):
        monkeypatch.delenv(name, raising=False)
    # moto in process answers at AWS's own endpoints, so the tests that travel in time (IKR_NOW, now=)
    # say on purpose that nothing real is at stake (rule 9; tests/integration/test_clock_rule.py).
    monkeypatch.setenv("IKR_ALLOW_CLOCK_OVERRIDE", "1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    # moto does not route the account-based DynamoDB endpoint current botocore picks in process.
    monkeypatch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    with mock_aws():
        yield


@pytest.fixture
def central() -> boto3.Session:
    return boto3.Session(region_name="us-east-1")


def default_spec() -> OrgSpec:
    return OrgSpec(
        ous={"Workloads": {"IKR:ENABLED": "true", "IKR:ROTATE_AFTER_DAYS": "60"}, "Sandbox": {}},
        accounts=[
            AccountSpec(
                "prod",
                "Workloads",
                {"IKR:DELETE_AFTER_DAYS": "3"},
                [
                    UserSpec("alice", {"IKR:EMAIL": "alice@example.com", "IKR:INSTRUCTION_0": "Update CI."}),
                    UserSpec("bob", {"ikr:email": "bob@example.com", "IKR:ROTATE_AFTER_DAYS": "200"}),
                    UserSpec("carol", {"IKR:EMAIL": "not-an-address"}),
                    UserSpec("untagged", {}),
                ],
            ),
            AccountSpec(
                "dev",
                "Workloads",
                {},
                [
                    UserSpec("dave", {"IKR:EMAIL": "dave@example.com"}),
                    UserSpec("erin", {"IKR:EMAIL": "erin@example.com"}, keys=2),
                ],
            ),
            AccountSpec("sandbox", "Sandbox", {}, [UserSpec("sam", {"IKR:EMAIL": "sam@example.com"})]),
        ],
    )


@dataclass
class Harness:
    world: World
    services: Services
    mailer: RecordingMailer
    table: ExpiryTable

    def settings(self, **changes: object) -> None:
        self.services.settings = self.services.settings.model_copy(update=changes)


def make_services(central: boto3.Session, **settings: object) -> tuple[Services, RecordingMailer]:
    """The central account's services over a fresh expiry table, mail kept by a RecordingMailer."""
    table = ExpiryTable(central.client("dynamodb"), TABLE)
    table.create()
    mailer = RecordingMailer()
    values = {"MAIL_FROM": "ikr@example.com", "IAM_KEY_ROTATOR_TABLE": TABLE, **settings}
    services = Services(
        settings=Settings.model_validate(values),
        central=central,
        broker=SessionBroker(central, "ikr-member"),
        table=table,
        mailer=mailer,
        clock=system_clock,
    )
    return services, mailer


def make_harness(central: boto3.Session, spec: OrgSpec, **settings: object) -> Harness:
    world = build_world(central, spec)
    services, mailer = make_services(central, **settings)
    return Harness(world=world, services=services, mailer=mailer, table=services.table)


@pytest.fixture
def harness(central: boto3.Session) -> Harness:
    return make_harness(central, default_spec())


# Fixtures kept in their own modules, shared by several test files.
from tests.integration.destroy_scene import scene  # noqa: E402, F401
