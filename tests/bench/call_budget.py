"""Issue 15's call budget, measured exactly: every AWS call one due user's rotation makes once the
account's scan has found the user due, and every call the destructor makes per removed expiry item.

Counted per user: the calls of deciding that user on live keys (ListAccessKeys: the credential
report is trusted only to say "not due") and of the rotation itself. Not counted: the account's
scan (credential report, GetAccountAuthorizationDetails, the account's Query), the run's discovery
and sweep. Counted per key: everything `destroy` does for one record; AssumeRole is shown apart, as
the session is made once per account and destructor environment, not per key (two keys of one
account below cost one AssumeRole, and the broker's one GetCallerIdentity is left out too).

`python -m tests.bench.call_budget` (make bench-calls) prints the table; the integration test
`tests/integration/test_call_budget.py` asserts the same figures.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from unittest import mock

import boto3
from botocore.client import BaseClient

from central.aws.expiry_item import ExpiryItem, State, from_epoch
from central.aws.expiry_table import ExpiryTable
from central.aws.ses import SesSender
from central.aws.sessions import SessionBroker
from central.clock import fixed_clock, system_clock
from central.collaborators import Services
from central.domain.results import Outcome
from central.notify.mailers.ses import SesMailer
from central.retirement.destroy import DestroyContext, Destroyed, destroy
from central.rotation import account as rotation_account
from central.rotation.remind import Reminding
from central.rotation.rotate import KeyRotation
from central.rotation.run import run_rotation
from central.settings import Settings
from tests.bench.common import fake_credentials, quiet
from tests.support.world import AccountSpec, OrgSpec, UserSpec, build_world

TABLE = "ikr-call-budget"
SENDER = "ikr@example.com"
SECRET_PREFIX = "ikr/ci/"
USERS = ("alice", "bob")  # two due users of one account: the destructor's AssumeRole is shown per account
# Keys made today are 100 days old then: due under the default 90 days.
LATER_DAYS = 100
DEACTIVATE_DAYS = 2
# Keys made today are 82 days old then: within 7 days (REMIND_BEFORE_DAYS) of due under the default 85.
REMIND_DAYS = 82


@dataclass
class Recorder:
    """Every botocore call ("service:Operation"), into the window that is open (None: not recorded)."""

    window: list[str] | None = None
    windows: dict[str, list[str]] = field(default_factory=dict)

    @contextmanager
    def open(self, name: str) -> Iterator[None]:
        previous = self.window
        self.window = self.windows.setdefault(name, [])
        try:
            yield
        finally:
            self.window = previous

    @contextmanager
    def installed(self) -> Iterator[None]:
        original = BaseClient._make_api_call  # type: ignore[attr-defined]
        recorder = self

        def record(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
            if recorder.window is not None:
                recorder.window.append(f"{client.meta.service_model.service_name}:{operation}")
            return original(client, operation, params)

        with mock.patch.object(BaseClient, "_make_api_call", record):
            yield


def _services(central: boto3.Session, days: int = LATER_DAYS, **settings: object) -> Services:
    table = ExpiryTable(central.client("dynamodb"), TABLE)
    table.create()
    ses = central.client("ses")
    ses.verify_email_identity(EmailAddress=SENDER)
    values = {"MAIL_FROM": SENDER, "IAM_KEY_ROTATOR_TABLE": TABLE, **settings}
    now = fixed_clock(system_clock().replace(microsecond=0) + timedelta(days=days))
    return Services(
        settings=Settings.model_validate(values),
        central=central,
        broker=SessionBroker(central, "ikr-member"),
        table=table,
        mailer=SesMailer(SesSender(ses), SENDER),
        clock=now,
    )


@dataclass
class Rotated:
    """One account after its due users were rotated: the per-user windows, and what the destructor needs."""

    services: Services
    account_id: str
    per_user: dict[str, list[str]]


def rotate_users(
    central: boto3.Session, recorder: Recorder, tags: Callable[[str], dict[str, str]], **settings: object
) -> Rotated:
    """One account whose USERS are all due; each user's calls recorded in a window of its own."""
    users = [UserSpec(name, {"IKR:EMAIL": f"{name}@example.com", **tags(name)}) for name in USERS]
    spec = OrgSpec(ous={"Work": {"IKR:ENABLED": "true"}}, accounts=[AccountSpec("prod", "Work", {}, users)])
    world = build_world(central, spec)
    services = _services(central, **settings)
    decide = rotation_account._decide
    rotate = KeyRotation.rotate

    def decide_in_window(ctx: Any, iam: Any, listed: Any, *args: Any) -> Any:
        with recorder.open(listed.user.name):
            return decide(ctx, iam, listed, *args)

    def rotate_in_window(self: KeyRotation, decision: Any) -> Any:
        with recorder.open(decision.user):
            return rotate(self, decision)

    with (
        mock.patch.object(rotation_account, "_decide", decide_in_window),
        mock.patch.object(KeyRotation, "rotate", rotate_in_window),
    ):
        result = run_rotation(services, concurrency=1)
    outcomes = [user.outcome for account in result.accounts for user in account.users]
    assert outcomes == [Outcome.ROTATED] * len(USERS), result
    return Rotated(services, world.account_ids["prod"], {name: recorder.windows.pop(name) for name in USERS})


def destroy_keys(rotated: Rotated, recorder: Recorder, deactivate_days: int = 0) -> tuple[dict[str, Counter[str]], int]:
    """The destructor at each key's time, with a session of its own: the calls per key of each step
    (deactivate, then delete; or delete), and how many AssumeRole calls all keys made together."""
    table = rotated.services.table
    broker = SessionBroker(rotated.services.central, "ikr-member", purpose="destroy")
    per_step: dict[str, Counter[str]] = {}
    assumed = 0
    for step in ("deactivate", "delete") if deactivate_days else ("delete",):
        per_key: dict[str, list[str]] = {}
        aliases: dict[str, str] = {}  # the keys of a step as one batch: the account's alias read once
        for item in _scheduled(table, rotated.account_id):
            assert item.expires_at is not None
            ctx = DestroyContext(
                broker=broker,
                table=table,
                now=from_epoch(item.expires_at) + timedelta(minutes=1),
                retry_after=timedelta(minutes=5),
                deactivate_days=deactivate_days,
                mailer=rotated.services.mailer,
                aliases=aliases,
            )
            table.remove(item)  # as TTL or the sweep removes it
            with recorder.open("destructor"):
                result = destroy(ctx, item, event_id=f"{step}-{item.user_name}")
            calls = recorder.windows.pop("destructor")
            assumed += calls.count("sts:AssumeRole")
            # STS (the broker's GetCallerIdentity, AssumeRole) is per destructor session and account.
            per_key[item.user_name] = [call for call in calls if not call.startswith("sts:")]
            expected = Destroyed.DEACTIVATED if step == "deactivate" else Destroyed.DELETED
            assert result.outcome is expected, result
        assert sorted(per_key) == list(USERS), per_key
        per_step[step] = _same_for_every(per_key)
    return per_step, assumed


def _scheduled(table: ExpiryTable, account_id: str) -> list[ExpiryItem]:
    items = (item for item in table.for_account(account_id) if item.state is State.SCHEDULED)
    return sorted(items, key=lambda item: item.user_name)


# -- the scenarios of issue 15 -------------------------------------------------------------------------
def _no_tags(_name: str) -> dict[str, str]:
    return {}


def _secret_of(name: str) -> dict[str, str]:
    return {"IKR:DELIVERY": f"secretsmanager:{SECRET_PREFIX}{name}"}


# name: (user tags, settings)
ROTATIONS: dict[str, tuple[Callable[[str], dict[str, str]], dict[str, object]]] = {
    "mail, encrypted": (_no_tags, {}),  # (a) the key mailed through SES, encrypted
    "mail, not encrypted": (_no_tags, {"ENCRYPT_KEY_PAIR": False}),  # (b)
    "Secrets Manager (new secret)": (_secret_of, {}),  # (c) the pair into a secret, the owner mailed
}


def rotation_budget(central: boto3.Session, name: str) -> tuple[Counter[str], Rotated, Recorder]:
    """The calls of one due user's rotation in scenario `name` (every user of the account alike)."""
    tags, settings = ROTATIONS[name]
    recorder = Recorder()
    with recorder.installed():
        rotated = rotate_users(central, recorder, tags, **settings)
    return _same_for_every(rotated.per_user), rotated, recorder


def destruction_budget(central: boto3.Session, deactivate_days: int = 0) -> tuple[dict[str, Counter[str]], int]:
    """(d) the destructor deleting an old key and the user's Fernet key parameter; with
    `deactivate_days`, (e) its two steps: made inactive, deleted that many days later."""
    _, rotated, recorder = rotation_budget(central, "mail, encrypted")
    with recorder.installed():
        return destroy_keys(rotated, recorder, deactivate_days)


def reminder_budget(central: boto3.Session) -> Counter[str]:
    """The calls of one user's reminder (REMIND_BEFORE_DAYS): deciding it on live keys (the report names
    no key ids) and the reminder itself, the mail through SES. Every user of the account alike."""
    recorder = Recorder()
    users = [UserSpec(name, {"IKR:EMAIL": f"{name}@example.com"}) for name in USERS]
    build_world(
        central, OrgSpec(ous={"Work": {"IKR:ENABLED": "true"}}, accounts=[AccountSpec("prod", "Work", {}, users)])
    )
    services = _services(central, days=10)
    run_rotation(services, concurrency=1)  # far from due; IAM makes the credential report the next run reads
    services.clock = fixed_clock(system_clock().replace(microsecond=0) + timedelta(days=REMIND_DAYS))
    decide, remind = rotation_account._decide, Reminding.remind

    def decide_in_window(ctx: Any, iam: Any, listed: Any, *args: Any) -> Any:
        with recorder.open(listed.user.name):
            return decide(ctx, iam, listed, *args)

    def remind_in_window(self: Reminding, decision: Any) -> str:
        with recorder.open(decision.user):
            return remind(self, decision)

    with (
        recorder.installed(),
        mock.patch.object(rotation_account, "_decide", decide_in_window),
        mock.patch.object(Reminding, "remind", remind_in_window),
    ):
        result = run_rotation(services, concurrency=1)
    details = [user.detail for account in result.accounts for user in account.users]
    assert len(details) == len(USERS), details
    assert all("; reminded " in detail for detail in details), details
    return _same_for_every({name: recorder.windows.pop(name) for name in USERS})


@dataclass
class Budget:
    """Per-user and per-key calls of every scenario, each a Counter of "service:Operation"."""

    rotation: dict[str, Counter[str]]
    destruction: dict[str, Counter[str]]
    assume_roles: dict[str, int]  # per destructor scenario, over the two keys of one account
    reminder: Counter[str] = field(default_factory=Counter)  # one user's reminder, once per key


def measure(fresh: Callable[[], AbstractContextManager[boto3.Session]]) -> Budget:
    """Every scenario in a world of its own; `fresh()` gives a central session over an empty AWS."""
    budget = Budget({}, {}, {})
    for name in ROTATIONS:
        with fresh() as central:
            budget.rotation[name] = rotation_budget(central, name)[0]
    with fresh() as central:
        steps, assumed = destruction_budget(central)
        budget.destruction["delete"] = steps["delete"]
        budget.assume_roles["delete"] = assumed
    with fresh() as central:
        steps, assumed = destruction_budget(central, DEACTIVATE_DAYS)
        budget.destruction["deactivate first: deactivate"] = steps["deactivate"]
        budget.destruction["deactivate first: delete"] = steps["delete"]
        budget.assume_roles["deactivate first"] = assumed
    with fresh() as central:
        budget.reminder = reminder_budget(central)
    return budget


# Asked once per account (and rotation run, or destructor batch), by whichever user's mail comes first:
# the mails' `Account: <id> (<alias>)`. Not a per-user call; at most one in all windows of an account.
PER_ACCOUNT = "iam:ListAccountAliases"


def _same_for_every(windows: dict[str, list[str]]) -> Counter[str]:
    per_account = sum(calls.count(PER_ACCOUNT) for calls in windows.values())
    assert per_account <= 1, windows
    counts = [Counter(call for call in calls if call != PER_ACCOUNT) for calls in windows.values()]
    assert all(count == counts[0] for count in counts), windows
    return counts[0]


def table(figures: dict[str, Counter[str]], unit: str) -> str:
    """One line per scenario: total, then calls by service and by service:Operation."""
    lines = []
    for name, counts in figures.items():
        services: Counter[str] = Counter()
        for call, n in counts.items():
            services[call.split(":")[0]] += n
        by_service = ", ".join(f"{service} {n}" for service, n in sorted(services.items()))
        detail = ", ".join(f"{call} {n}" for call, n in sorted(counts.items()))
        lines.append(f"{name:<28} {sum(counts.values()):>2} per {unit}  ({by_service})\n{'':<31}{detail}")
    return "\n".join(lines)


def report(budget: Budget) -> str:
    assumed = ", ".join(f"{name}: {n}" for name, n in budget.assume_roles.items())
    return "\n".join(
        [
            "AWS calls per rotated user (after the scan found the user due):",
            table(budget.rotation, "user"),
            "",
            "AWS calls per destroyed key (per removed expiry item):",
            table(budget.destruction, "key"),
            f"sts:AssumeRole per account and destructor session, not per key (two keys each): {assumed}",
            f"{PER_ACCOUNT}: at most 1 per account and rotation run or destructor batch (the mails' Account: line)",
            *(
                [
                    "",
                    "AWS calls per reminded user (once per key; none for a user not near due):",
                    table({"reminder": budget.reminder}, "user"),
                ]
                if budget.reminder
                else []
            ),
        ]
    )


def main() -> None:
    from moto import mock_aws

    quiet()
    fake_credentials()
    os.environ["AWS_ACCOUNT_ID_ENDPOINT_MODE"] = "disabled"
    os.environ.pop("AWS_ENDPOINT_URL", None)

    @contextmanager
    def fresh() -> Iterator[boto3.Session]:
        with mock_aws():
            yield boto3.Session(region_name="us-east-1")

    print(report(measure(fresh)))


if __name__ == "__main__":
    main()
