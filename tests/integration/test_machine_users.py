"""Machine users: the new key goes into a Secrets Manager secret or an SSM parameter of the user's
own account, the owner is told where (never the secret), and the old key is retired only once the
new one has been used, or when the grace time is over."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest

from central.aws.expiry_item import ExpiryItem, State, from_epoch
from central.domain.results import Outcome
from central.notify.admin import AdminNotifier
from central.retirement.destroy import DestroyContext, Destroyed, destroy
from central.rotation.run import run_rotation
from tests.integration.conftest import Harness, RecordingMailer, make_harness
from tests.integration.faults import Faults
from tests.integration.fixtures_extra import (
    LATER,
    client,
    items,
    key_ids,
    mails_to,
    shared_botocore_loader,  # noqa: F401 - autouse: shared service models (speed)
    user_rows,
)
from tests.support.world import AccountSpec, OrgSpec, UserSpec, caller_arn

OWNER = "platform@example.com"
SECRET = "ikr/ci/deployer"
PARAMETER = "/ikr/jobs/nightly"


def _spec(**extra: dict[str, str]) -> OrgSpec:
    users = [
        UserSpec("deployer", {"IKR:EMAIL": OWNER, "IKR:DELIVERY": f"secretsmanager:{SECRET}"}),
        UserSpec("nightly", {"IKR:EMAIL": OWNER, "IKR:DELIVERY": f"ssm:{PARAMETER}"}),
        *(UserSpec(name, {"IKR:EMAIL": OWNER, **tags}) for name, tags in extra.items()),
    ]
    return OrgSpec(ous={"Work": {"IKR:ENABLED": "true"}}, accounts=[AccountSpec("prod", "Work", {}, users)])


def _harness(central: boto3.Session, **extra: dict[str, str]) -> Harness:
    from central.clock import fixed_clock

    harness = make_harness(central, _spec(**extra))
    harness.services.clock = fixed_clock(LATER)
    return harness


def _pair_in_secret(harness: Harness, stage: str = "AWSCURRENT") -> dict[str, str]:
    value = client(harness, "prod", "secretsmanager").get_secret_value(SecretId=SECRET, VersionStage=stage)
    pair: dict[str, str] = json.loads(value["SecretString"])
    return pair


def test_the_new_pair_lands_in_the_secret_and_the_parameter_and_works(central: boto3.Session):
    harness = _harness(central)
    old_deployer = key_ids(harness, "prod", "deployer")

    result = run_rotation(harness.services)

    prod = harness.world.account_ids["prod"]
    (deployer,) = user_rows(result, prod, "deployer")
    assert deployer.outcome is Outcome.ROTATED
    assert f"written to Secrets Manager secret {SECRET}" in deployer.detail
    assert "once the new key is in use" in deployer.detail
    pair = _pair_in_secret(harness)
    assert pair["AccessKeyId"] == deployer.new_key_id
    assert key_ids(harness, "prod", "deployer") == [*old_deployer, deployer.new_key_id]
    assert caller_arn(pair) == f"arn:aws:iam::{prod}:user/deployer"
    tags = client(harness, "prod", "secretsmanager").describe_secret(SecretId=SECRET)["Tags"]
    assert {"Key": "IKR:MANAGED", "Value": "true"} in tags
    raw = client(harness, "prod", "ssm").get_parameter(Name=PARAMETER, WithDecryption=True)["Parameter"]
    assert raw["Type"] == "SecureString"
    nightly = json.loads(raw["Value"])
    assert caller_arn(nightly) == f"arn:aws:iam::{prod}:user/nightly"
    # The owner learns where each key is, never the key.
    mails = mails_to(harness, OWNER)
    assert len(mails) == 2
    assert all(pair["SecretAccessKey"] not in m.text + m.html for m in mails)
    assert all(nightly["SecretAccessKey"] not in m.text + m.html for m in mails)
    assert any(SECRET in m.subject and deployer.new_key_id in m.text for m in mails if deployer.new_key_id)
    # Both old keys wait, and each item remembers to verify use.
    assert {(i.user_name, i.verify_use, i.delivery) for i in items(harness, "prod")} == {
        ("deployer", True, f"secretsmanager:{SECRET}"),
        ("nightly", True, f"ssm:{PARAMETER}"),
    }


def test_an_existing_secret_gets_a_new_version_and_keeps_the_one_before(central: boto3.Session):
    harness = _harness(central)
    secrets = client(harness, "prod", "secretsmanager")
    secrets.create_secret(Name=SECRET, SecretString=json.dumps({"AccessKeyId": "AKIAOLD", "SecretAccessKey": "x"}))

    run_rotation(harness.services)

    assert _pair_in_secret(harness)["AccessKeyId"] != "AKIAOLD"
    assert _pair_in_secret(harness, "AWSPREVIOUS")["AccessKeyId"] == "AKIAOLD"


def test_a_target_outside_the_prefix_is_bad_input_and_leaves_the_existing_secret_alone(central: boto3.Session):
    harness = _harness(central, rogue={"IKR:DELIVERY": "secretsmanager:prod/database"})
    secrets = client(harness, "prod", "secretsmanager")
    secrets.create_secret(Name="prod/database", SecretString="do-not-touch")
    before = key_ids(harness, "prod", "rogue")

    result = run_rotation(harness.services)

    (rogue,) = user_rows(result, harness.world.account_ids["prod"], "rogue")
    assert rogue.outcome is Outcome.SKIPPED
    assert rogue.failed
    assert "must start with 'ikr/'" in rogue.detail
    assert secrets.get_secret_value(SecretId="prod/database")["SecretString"] == "do-not-touch"
    assert len(secrets.list_secret_version_ids(SecretId="prod/database")["Versions"]) == 1
    assert key_ids(harness, "prod", "rogue") == before
    assert result.exit_code == 1


def test_a_refused_store_write_is_a_failed_delivery(central: boto3.Session, monkeypatch: pytest.MonkeyPatch):
    harness = _harness(central)
    before = key_ids(harness, "prod", "deployer")
    faults = Faults(monkeypatch)
    faults.refuse("CreateSecret", code="AccessDenied", message="value echo: do-not-print")

    result = run_rotation(harness.services)

    (deployer,) = user_rows(result, harness.world.account_ids["prod"], "deployer")
    assert deployer.outcome is Outcome.FAILED
    assert f"cannot write the new key to Secrets Manager secret {SECRET}: AccessDenied" in deployer.detail
    assert "do-not-print" not in deployer.detail  # AWS's message may echo the value: only the code is kept
    assert key_ids(harness, "prod", "deployer") == before  # new key removed, old kept
    assert [i.user_name for i in items(harness, "prod")] == ["nightly"]  # nothing scheduled for deployer


# -- retire only what is no longer used --------------------------------------------------------------
def _scheduled(harness: Harness, user: str) -> ExpiryItem:
    (item,) = [i for i in items(harness, "prod") if i.user_name == user and i.state is State.SCHEDULED]
    return item


def _context(harness: Harness, now: datetime, mailer: RecordingMailer, grace: int = 14) -> DestroyContext:
    return DestroyContext(
        broker=harness.services.broker,
        table=harness.table,
        now=now,
        retry_after=timedelta(minutes=5),
        grace_days=grace,
        mailer=mailer,
        admin=AdminNotifier(mailer, "admin@example.com"),
    )


def _use(pair: dict[str, Any]) -> None:
    caller_arn(pair)  # moto records the key's last use


@pytest.fixture
def rotated(central: boto3.Session) -> Harness:
    harness = _harness(central)
    run_rotation(harness.services)
    return harness


def test_an_unused_new_key_keeps_the_old_key_past_its_time_and_the_owner_hears_once_a_day(rotated: Harness):
    harness, mailer = rotated, RecordingMailer()
    item = _scheduled(harness, "deployer")
    due = from_epoch(item.expires_at or 0)
    harness.table.remove(item)  # TTL

    first = destroy(_context(harness, due, mailer), item, removed_by_ttl=True)

    assert first.outcome is Destroyed.POSTPONED
    assert len(key_ids(harness, "prod", "deployer")) == 2
    back = _scheduled(harness, "deployer")
    assert back.attempts == 0  # waiting is not a failure
    assert back.expires_at == int((due + timedelta(days=1)).timestamp())
    (nag,) = mailer.sent
    assert nag.to == OWNER
    assert "has not been used yet" in nag.text
    # Swept a little early the next day: it waits again, without a second mail within the day.
    harness.table.remove(back)
    again = destroy(_context(harness, due + timedelta(hours=20), mailer), back, removed_by_ttl=True)
    assert again.outcome is Destroyed.POSTPONED
    assert len(mailer.sent) == 1


def test_a_used_new_key_lets_the_old_key_go(rotated: Harness):
    harness, mailer = rotated, RecordingMailer()
    _use(_pair_in_secret(harness))  # the pipeline picked up the new key
    item = _scheduled(harness, "deployer")
    harness.table.remove(item)

    result = destroy(_context(harness, from_epoch(item.expires_at or 0), mailer), item, removed_by_ttl=True)

    assert result.outcome is Destroyed.DELETED
    assert key_ids(harness, "prod", "deployer") == [_pair_in_secret(harness)["AccessKeyId"]]


def test_after_the_grace_time_the_old_key_is_retired_anyway_and_owner_and_admin_are_told(rotated: Harness):
    harness, mailer = rotated, RecordingMailer()
    item = _scheduled(harness, "nightly")
    harness.table.remove(item)
    late = from_epoch(item.expires_at or 0) + timedelta(days=3, minutes=1)

    result = destroy(_context(harness, late, mailer, grace=3), item, removed_by_ttl=True)

    assert result.outcome is Destroyed.DELETED
    assert len(key_ids(harness, "prod", "nightly")) == 1
    # the owner: the forced switch, then the original's deletion mail; the administrator: the notice
    assert sorted(m.to for m in mailer.sent) == ["admin@example.com", OWNER, OWNER]
    owner = next(m for m in mailer.sent if m.to == OWNER)
    assert "was deleted anyway" in owner.text
    assert [m.subject.split(":")[0] for m in mailer.sent if m.to == OWNER][1] == "Old Access Key Pair Deleted"


def test_without_verification_a_store_user_is_retired_on_time(central: boto3.Session):
    harness = _harness(central, relaxed={"IKR:DELIVERY": "ssm:/ikr/relaxed", "IKR:VERIFY_USE": "false"})
    run_rotation(harness.services)
    item = _scheduled(harness, "relaxed")
    harness.table.remove(item)

    result = destroy(_context(harness, from_epoch(item.expires_at or 0), RecordingMailer()), item, removed_by_ttl=True)

    assert result.outcome is Destroyed.DELETED
    new_key = item.new_key_id or ""
    last_used = client(harness, "prod", "iam").get_access_key_last_used(AccessKeyId=new_key)["AccessKeyLastUsed"]
    assert "LastUsedDate" not in last_used  # never used, yet retired on time: the tag switched verification off


def test_the_plan_says_where_each_new_key_would_go(central: boto3.Session):
    harness = _harness(central, person={})

    result = run_rotation(harness.services, dry_run=True)

    prod = harness.world.account_ids["prod"]
    (deployer,) = user_rows(result, prod, "deployer")
    (person,) = user_rows(result, prod, "person")
    assert deployer.outcome is Outcome.WOULD_ROTATE
    assert deployer.detail.endswith(
        f"new key would be written to Secrets Manager secret {SECRET}; old key kept until the new one is in use"
    )
    assert person.detail.endswith(f"new key would be mailed to {OWNER}")
