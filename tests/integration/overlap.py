"""Two ikr runs over the same accounts, one paused (or killed) right after one of its AWS calls while
the other runs: the machinery of the overlap sweeps, and the checks every interleaving must pass.

Runs are the real entry points: `ikr rotate` (`central.cli.main.main`) and the account worker Lambda
handler, each on its own thread, against moto in process. A run is told apart by its thread's name;
`Gate` wraps botocore's `BaseClient._make_api_call` (over `Faults`, which records every call), so
the pause comes after AWS has acted, as a slow or descheduled process would see it.

What must hold after any interleaving, at most two ordinary reruns once the leases have expired, and
a run plus the destructor past the old keys' deletion time:
- every key ikr delivered (mailed or written to a store) still exists;
- each user was sent at most one distinct secret;
- no user has two keys without an expiry item, and every user ends with exactly one active key;
- no pending pair is left in SSM;
- no run raised, or printed a raw AWS error.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient

from central.aws.expiry_table import ExpiryTable
from central.aws.ssm_secrets import pending_name
from central.cli.main import main
from tests.integration.faults import Crash, Faults
from tests.integration.fixtures_extra import LATER
from tests.support.emulator import reset_emulator
from tests.support.servers import TABLE
from tests.support.world import AccountSpec, OrgSpec, UserSpec, World, build_world

MAIL_FROM = "ikr@example.com"
LEASE_MINUTES = 20
SPEC = OrgSpec(
    ous={"Workloads": {"IKR:ENABLED": "true"}},
    accounts=[
        AccountSpec(
            "prod",
            "Workloads",
            {},
            [
                UserSpec("alice", {"IKR:EMAIL": "alice@example.com"}),
                UserSpec(
                    "deployer",
                    {
                        "IKR:EMAIL": "platform@example.com",
                        "IKR:DELIVERY": "secretsmanager:ikr/deployer",
                        "IKR:VERIFY_USE": "false",
                    },
                ),
            ],
        )
    ],
)
USERS = ("alice", "deployer")
_PAIR = re.compile(r"Access Key: (\S+).*?Secret Access Key: (\S+)", re.S)


def at(moment: datetime) -> str:
    return moment.isoformat()


class Gate:
    """Holds the thread named `name` right after its `after`-th AWS call until `release()`; or, with
    `crash`, kills it there (the call has reached AWS)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, name: str, after: int, crash: bool = False) -> None:
        self.name, self.after, self.crash = name, after, crash
        self.count = 0
        self.reached = threading.Event()
        self._go = threading.Event()
        original: Callable[..., Any] = BaseClient._make_api_call  # type: ignore[attr-defined]
        gate = self

        def call(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
            try:
                return original(client, operation, params)
            finally:
                if threading.current_thread().name == gate.name:
                    gate.count += 1
                    if gate.count == gate.after:
                        gate.reached.set()
                        if gate.crash:
                            raise Crash(f"{gate.name} died right after {operation}")
                        gate._go.wait(120)

        monkeypatch.setattr(BaseClient, "_make_api_call", call)

    def release(self) -> None:
        self._go.set()


@dataclass
class Outcome:
    code: int | None = None
    error: BaseException | None = None


def on_thread(name: str, work: Callable[[], int]) -> tuple[threading.Thread, Outcome]:
    outcome = Outcome()

    def run() -> None:
        try:
            outcome.code = work()
        except BaseException as exc:
            outcome.error = exc

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread, outcome


@dataclass
class Overlap:
    """One world for one interleaving: the Organization, the env for the CLI, the recorded calls."""

    world: World
    faults: Faults
    tmp: Path
    monkeypatch: pytest.MonkeyPatch
    output: io.StringIO = field(default_factory=io.StringIO)
    codes: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def prod(self) -> str:
        return self.world.account_ids["prod"]

    def iam(self) -> Any:
        return self.world.session(self.prod).client("iam")

    def rotate(self, now: datetime) -> int:
        with contextlib.redirect_stdout(self.output):
            code = main(["rotate", "--now", at(now), "--concurrency", "1"])
        self.codes.append(code)
        return code

    def pump(self, now: datetime) -> int:
        with contextlib.redirect_stdout(self.output):
            code = main(["stream-pump", "--now", at(now), "--checkpoint", str(self.tmp / "checkpoint.json")])
        self.codes.append(code)
        return code

    def settle(self) -> None:
        """Two ordinary reruns after the leases, then a run and the destructor past the deletion time."""
        self.rotate(LATER + timedelta(minutes=LEASE_MINUTES + 1))
        self.rotate(LATER + timedelta(minutes=2 * LEASE_MINUTES + 2))
        past = LATER + timedelta(days=6)
        self.rotate(past)
        self.pump(past)

    # -- what was delivered -------------------------------------------------------------------------
    def delivered(self) -> dict[str, set[tuple[str, str]]]:
        """Per user, every (key id, secret) ikr sent out: mails (SES) and store writes."""
        sent: dict[str, set[tuple[str, str]]] = {user: set() for user in USERS}
        for call in self.faults.calls:
            if call.operation == "SendEmail":
                to = call.params["Destination"]["ToAddresses"][0]
                match = _PAIR.search(call.params["Message"]["Body"]["Text"]["Data"])
                if match and to == "alice@example.com":
                    sent["alice"].add((match.group(1), match.group(2)))
            elif call.operation in ("PutSecretValue", "CreateSecret") and call.service == "secretsmanager":
                pair = json.loads(call.params["SecretString"])
                sent["deployer"].add((pair["AccessKeyId"], pair["SecretAccessKey"]))
        return sent

    # -- the checks ---------------------------------------------------------------------------------
    def check(self, label: str) -> list[str]:
        problems: list[str] = []
        iam = self.iam()
        ssm = self.world.session(self.prod).client("ssm")
        items = ExpiryTable(boto3.client("dynamodb", region_name="us-east-1"), TABLE).for_account(self.prod)
        for user, pairs in self.delivered().items():
            keys = {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]}
            if len({secret for _, secret in pairs}) > 1:
                problems.append(f"{user} was sent {len(pairs)} different secrets")
            lost = {key_id for key_id, _ in pairs} - set(keys)
            if lost:
                problems.append(f"{user}: delivered key(s) {sorted(lost)} were deleted")
            mine = [item for item in items if item.user_name == user]
            if len(keys) == 2 and not any(item.old_key_id in keys for item in mine):
                problems.append(f"{user} has two keys {sorted(keys)} and no expiry item")
            active = [key for key, status in keys.items() if status == "Active"]
            if len(active) != 1:
                problems.append(f"{user} ends with {len(active)} active keys {keys}")
            with contextlib.suppress(ssm.exceptions.ParameterNotFound):
                ssm.get_parameter(Name=pending_name(user))
                problems.append(f"{user}: a pending pair is left in SSM")
        text = self.output.getvalue()
        for raw in ("ConditionalCheckFailed", "Traceback", "ValidationException"):
            if raw in text:
                problems.append(f"a run printed a raw error ({raw})")
        if any(code not in (0, 1) for code in self.codes):
            problems.append(f"exit codes {self.codes}")
        return [f"{label}: {problem}" for problem in problems]


@contextlib.contextmanager
def overlap_world(tmp: Path, **env: str) -> Iterator[Overlap]:
    """A fresh Organization and expiry table, and the environment `ikr` reads, for one interleaving;
    its patches (environment, call recording, gates) are undone when it ends."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield from _world(monkeypatch, tmp, **env)


def _world(monkeypatch: pytest.MonkeyPatch, tmp: Path, **env: str) -> Iterator[Overlap]:
    reset_emulator()
    central = boto3.Session(region_name="us-east-1")
    world = build_world(central, SPEC)
    ExpiryTable(central.client("dynamodb"), TABLE).create()
    central.client("ses").verify_email_identity(EmailAddress=MAIL_FROM)
    values = {
        "IAM_KEY_ROTATOR_TABLE": TABLE,
        "MAIL_FROM": MAIL_FROM,
        "MAIL_CLIENT": "ses",
        "ENCRYPT_KEY_PAIR": "false",
        "IKR_ALLOW_CLOCK_OVERRIDE": "1",
        "IKR_LEASE_MINUTES": str(LEASE_MINUTES),
        "POWERTOOLS_METRICS_DISABLED": "true",
        "IKR_LOG_LEVEL": "CRITICAL",
        **env,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    faults = Faults(monkeypatch)
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "checkpoint.json").unlink(missing_ok=True)
    yield Overlap(world=world, faults=faults, tmp=tmp, monkeypatch=monkeypatch)
    faults.clear()


def sample(points: list[int], full: bool, every: int = 3) -> list[int]:
    """The whole sweep with IKR_FULL_SWEEP=1 (`make sweeps`), else every `every`-th point and the last."""
    return points if full else sorted({*points[::every], points[-1]})
