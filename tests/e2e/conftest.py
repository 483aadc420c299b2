"""End to end: the real `ikr` console script in a subprocess, over HTTP to a moto server and SMTP to a sink.

One moto server and one SMTP sink per pytest process (each xdist worker has its own), reset for
every test: a test builds its own Organization and never depends on another test's state.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from boto3.dynamodb.types import TypeDeserializer

from central.aws.expiry_table import ExpiryTable
from central.aws.reminders import is_reminder
from tests.support.servers import CENTRAL_ACCOUNT, TABLE, MotoServer, SmtpSink, env_for, ikr_command
from tests.support.world import AccountSpec, OrgSpec, UserSpec, World, build_world

TODAY = datetime.now(UTC)
# Keys made today are judged by --now: 100 days on every user on default days is due; 110 days on
# every old key (deleted 3 or 5 days after rotation) is past its time.
DAY_100 = (TODAY + timedelta(days=100)).isoformat(timespec="seconds")
DAY_110 = (TODAY + timedelta(days=110)).isoformat(timespec="seconds")


def e2e_spec() -> OrgSpec:
    return OrgSpec(
        ous={"Workloads": {"IKR:ENABLED": "true", "IKR:ROTATE_AFTER_DAYS": "60"}, "Sandbox": {}},
        accounts=[
            AccountSpec(
                "prod",
                "Workloads",
                {"IKR:DELETE_AFTER_DAYS": "3"},
                [
                    UserSpec(
                        "alice",
                        {
                            "IKR:EMAIL": "alice@example.com",
                            "IKR:INSTRUCTION_0": "Update the CI secret.",
                            "IKR:INSTRUCTION_1": "Then restart the deploy job.",
                        },
                    ),
                    UserSpec("bob", {"ikr:email": "bob@example.com", "IKR:ROTATE_AFTER_DAYS": "200"}),
                    UserSpec("carol", {"IKR:EMAIL": "carol@example.com", "IKR:ROTATE_AFTER_DAYS": "ninety"}),
                    UserSpec("untagged", {}),
                ],
            ),
            AccountSpec("dev", "Workloads", {}, [UserSpec("dave", {"IKR:EMAIL": "dave@example.com"})]),
            AccountSpec("sandbox", "Sandbox", {}, [UserSpec("sam", {"IKR:EMAIL": "sam@example.com"})]),
        ],
    )


@dataclass(frozen=True)
class Run:
    """One `ikr` invocation. `lines` are what it printed for people: Powertools Metrics writes its
    CloudWatch (EMF) JSON to stdout as well, which `lines` leaves out and `json_out` holds."""

    code: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return [line for line in self.stdout.splitlines() if not line.startswith("{")]

    @property
    def json_out(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.startswith("{")]

    @property
    def logs(self) -> list[dict[str, Any]]:
        """The JSON log lines on stderr (`--log-level` / IKR_LOG_LEVEL switches them on)."""
        return [json.loads(line) for line in self.stderr.splitlines() if line.startswith("{")]

    def line_for(self, text: str) -> str:
        found = [line for line in self.lines if text in line]
        assert len(found) == 1, f"expected one line with {text!r} in:\n{self.stdout}"
        return found[0]


@dataclass
class E2E:
    world: World
    env: dict[str, str]
    sink: SmtpSink
    cwd: Path
    _clients: dict[tuple[str, str], Any] = field(default_factory=dict)

    def client(self, account: str, service: str) -> Any:
        """A client in the named account, made once (clients are slow to make; the test asks often)."""
        if (account, service) not in self._clients:
            session = self.world.central if account == "central" else self.world.session(self.account(account))
            self._clients[account, service] = session.client(service)  # type: ignore[call-overload]
        return self._clients[account, service]

    def ikr(self, *args: str, **extra: str | int | None) -> Run:
        env = dict(self.env)
        for name, value in extra.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = str(value)
        done = subprocess.run(
            [*ikr_command(), *args], env=env, cwd=self.cwd, capture_output=True, text=True, timeout=120, check=False
        )
        return Run(done.returncode, done.stdout, done.stderr)

    def account(self, name: str) -> str:
        return self.world.account_ids[name]

    def keys(self, account: str, user: str) -> list[str]:
        """The user's access key ids, oldest first."""
        metadata = self.client(account, "iam").list_access_keys(UserName=user)["AccessKeyMetadata"]
        return [key["AccessKeyId"] for key in sorted(metadata, key=lambda key: key["CreateDate"])]

    def all_keys(self) -> dict[tuple[str, str], list[str]]:
        return {
            (spec.name, user.name): self.keys(spec.name, user.name)
            for spec in e2e_spec().accounts
            for user in spec.users
        }

    def _scan(self) -> list[dict[str, Any]]:
        raw = self.client("central", "dynamodb").scan(TableName=TABLE, ConsistentRead=True)["Items"]
        deserializer = TypeDeserializer()
        return [{key: deserializer.deserialize(value) for key, value in item.items()} for item in raw]

    def items(self) -> list[dict[str, Any]]:
        """Every expiry table item, plain; not the destructor's tombstones (its record of a handled
        REMOVE, removed by TTL or the sweep two days later), the accounts' retry marks (`#retry`,
        read by the retry run only) nor the reminders sent, which no reader of the table sees."""
        return [
            item
            for item in self._scan()
            if item.get("state") != "retired" and item["item_key"] != "#retry" and not is_reminder(item)
        ]

    def reminders(self) -> list[dict[str, Any]]:
        """The reminders sent (`#remind#<user>#<key id>`), plain: no expiry items either."""
        return [item for item in self._scan() if is_reminder(item)]

    def retry_marks(self) -> dict[str, str]:
        """The accounts marked for the retry run, by account name: the reason of the postponement."""
        names = {account_id: name for name, account_id in self.world.account_ids.items()}
        return {names[item["account_id"]]: item["reason"] for item in self._scan() if item["item_key"] == "#retry"}

    def user_tags(self, account: str, user: str) -> dict[str, str]:
        tags = self.client(account, "iam").list_user_tags(UserName=user)["Tags"]
        return {tag["Key"]: tag["Value"] for tag in tags}

    def parameters(self, account: str) -> list[str]:
        ssm = self.client(account, "ssm")
        return sorted(parameter["Name"] for parameter in ssm.describe_parameters()["Parameters"])

    def create_table(self) -> None:
        """What `ikr bootstrap` does, in process: faster for tests that are not about bootstrap."""
        ExpiryTable(self.client("central", "dynamodb"), TABLE).create()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


@pytest.fixture(scope="session")
def smtp_sink() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def sink(smtp_sink: SmtpSink) -> Iterator[SmtpSink]:
    smtp_sink.clear()
    smtp_sink.refusing = False
    yield smtp_sink
    smtp_sink.refusing = False


@pytest.fixture
def central(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> boto3.Session:
    """A fresh emulator and a session in its central account; world.py's clients find the server
    through AWS_ENDPOINT_URL, so it is set for this test process too."""
    moto_server.reset()
    for name, value in env_for(moto_server.url).items():
        if name.startswith("AWS_"):
            monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    session = boto3.Session(region_name="us-east-1")
    assert session.client("sts").get_caller_identity()["Account"] == CENTRAL_ACCOUNT
    return session


@pytest.fixture
def e2e(central: boto3.Session, moto_server: MotoServer, sink: SmtpSink, tmp_path: Path) -> E2E:
    world = build_world(central, e2e_spec())
    return E2E(world=world, env=env_for(moto_server.url, sink.port), sink=sink, cwd=tmp_path)
