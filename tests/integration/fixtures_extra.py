"""Helpers shared by the failure-path integration tests: an Organization with no bad input, and
readers of what a run left behind (keys, expiry items, mails)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import pytest

from central.aws.expiry_item import ExpiryItem
from central.aws.ssm_secrets import parameter_name, pending_name
from central.clock import fixed_clock
from central.collaborators import Services
from central.domain import crypto
from central.domain.results import AccountResult, RunResult, UserResult
from central.notify.mailers.base import Mail
from central.rotation.rotate import JOURNAL_STATES
from tests.integration.conftest import Harness, RecordingMailer, make_harness, make_services
from tests.support.world import AccountSpec, OrgSpec, UserSpec

# Keys made today are 100 days old then: past every rotation age used here (60 and 85 days).
LATER: datetime = datetime.now(UTC).replace(microsecond=0) + timedelta(days=100)


_LOADERS: dict[str | None, botocore.loaders.Loader] = {}


def _shared_loader(search_path_string: str | None = None) -> botocore.loaders.Loader:
    loader = _LOADERS.get(search_path_string)
    if loader is None:
        loader = _LOADERS[search_path_string] = botocore.loaders.create_loader(search_path_string)
    # every boto3.Session appends its own data folder to its loader's search path: keep it short
    loader.search_paths[:] = list(dict.fromkeys(loader.search_paths))
    return loader


@pytest.fixture(autouse=True)
def shared_botocore_loader(monkeypatch: pytest.MonkeyPatch) -> None:
    """Speed only: ikr makes a boto3.Session per member account, and each new botocore session
    decodes the service models again (~0.1 s per client). One loader, and so one decoded model per
    service, is shared by every session of the test process. Import this fixture into a test module
    to switch it on there."""
    monkeypatch.setattr(botocore.session, "create_loader", _shared_loader)


def clean_spec() -> OrgSpec:
    """Three opted-in accounts whose users are all well tagged: a clean run exits 0."""
    return OrgSpec(
        ous={"Workloads": {"IKR:ENABLED": "true", "IKR:ROTATE_AFTER_DAYS": "60"}},
        accounts=[
            AccountSpec(
                "prod",
                "Workloads",
                {"IKR:DELETE_AFTER_DAYS": "3"},
                [
                    UserSpec("alice", {"IKR:EMAIL": "alice@example.com", "IKR:INSTRUCTION_0": "Update CI."}),
                    UserSpec("bob", {"IKR:EMAIL": "bob@example.com", "IKR:ROTATE_AFTER_DAYS": "200"}),
                ],
            ),
            AccountSpec("dev", "Workloads", {}, [UserSpec("dave", {"IKR:EMAIL": "dave@example.com"})]),
            AccountSpec("ops", "Workloads", {}, [UserSpec("olga", {"IKR:EMAIL": "olga@example.com"})]),
        ],
    )


def clean_harness(central: boto3.Session, **settings: object) -> Harness:
    harness = make_harness(central, clean_spec(), **settings)
    harness.services.clock = fixed_clock(LATER)
    return harness


def after_lease(harness: Harness) -> None:
    """Move the harness's clock past IKR_LEASE_MINUTES: a crashed run's lease has expired."""
    later = harness.services.clock() + timedelta(minutes=harness.services.settings.IKR_LEASE_MINUTES + 1)
    harness.services.clock = fixed_clock(later)


def standalone_services(central: boto3.Session, **settings: object) -> tuple[Services, RecordingMailer]:
    """Services for a caller in no Organization (none is created)."""
    return make_services(central, **settings)


# -- reading what a run left ---------------------------------------------------------------------
def client(harness: Harness, account: str, service: str) -> Any:
    """A client inside a member account, made once per test world (each new session costs ~0.1 s)."""
    cache: dict[tuple[str, str], Any] = vars(harness.world).setdefault("_test_clients", {})
    if (account, "") not in cache:
        cache[(account, "")] = harness.world.session(harness.world.account_ids[account])
    if (account, service) not in cache:
        cache[(account, service)] = cache[(account, "")].client(service)
    return cache[(account, service)]


def key_ids(harness: Harness, account: str, user: str) -> list[str]:
    """The user's access key ids, oldest first."""
    metas = client(harness, account, "iam").list_access_keys(UserName=user)["AccessKeyMetadata"]
    return [meta["AccessKeyId"] for meta in sorted(metas, key=lambda meta: meta["CreateDate"])]


def items(harness: Harness, account: str) -> list[ExpiryItem]:
    return harness.table.for_account(harness.world.account_ids[account])


def journal(harness: Harness) -> list[ExpiryItem]:
    """Every journal (started, key-created, delivered) item of every account."""
    found: list[ExpiryItem] = []
    for account_id in harness.world.account_ids.values():
        found.extend(i for i in harness.table.for_account(account_id) if i.state in JOURNAL_STATES)
    return found


def row(result: RunResult, account_id: str) -> AccountResult:
    return next(account for account in result.accounts if account.account_id == account_id)


def user_rows(result: RunResult, account_id: str, user: str) -> list[UserResult]:
    return [entry for entry in row(result, account_id).users if entry.user == user]


def mails_to(harness: Harness, address: str) -> list[Mail]:
    return [mail for mail in harness.mailer.sent if mail.to == address]


def mail_value(mail: Mail, label: str) -> str:
    prefix = f"{label}: "
    for line in mail.text.splitlines():
        if line.startswith(prefix):
            return line[len(prefix) :]
    raise AssertionError(f"no line {label!r} in the mail to {mail.to}")


def delivered_key_id(harness: Harness, account: str, user: str, mail: Mail) -> str:
    """The access key id a mail delivered, decrypted with the user's SSM key when encrypted."""
    shown = mail_value(mail, "Access Key")
    if shown.startswith("AKIA"):  # in plain text; encrypted, it is a Fernet token
        return shown
    ssm = client(harness, account, "ssm")
    fernet_key = ssm.get_parameter(Name=parameter_name(user), WithDecryption=True)["Parameter"]["Value"]
    return crypto.decrypt(fernet_key, shown)


def ssm_parameter_exists(harness: Harness, account: str, user: str) -> bool:
    ssm = client(harness, account, "ssm")
    names = [p["Name"] for p in ssm.describe_parameters()["Parameters"]]
    return parameter_name(user) in names


def pending_parameter(harness: Harness, account: str, user: str) -> dict[str, Any] | None:
    """The user's pending parameter: a pair kept for re-delivery, or its delivery's mark; None: none."""
    ssm = client(harness, account, "ssm")
    try:
        value = ssm.get_parameter(Name=pending_name(user), WithDecryption=True)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        return None
    parsed: dict[str, Any] = json.loads(value)
    return parsed


def pending_pair_exists(harness: Harness, account: str, user: str) -> bool:
    """A key pair (a secret) kept in SSM for re-delivery; the mark of a delivery holds none."""
    pending = pending_parameter(harness, account, user)
    return pending is not None and "SecretAccessKey" in pending
