"""Failure paths of one rotator run across several accounts: a failure stays where it happened and
nothing is lost (moto in process, faults injected through botocore)."""

from __future__ import annotations

from datetime import timedelta

import boto3
import pytest

from central.aws.expiry_item import State, epoch
from central.domain.results import AccountStatus, Outcome
from central.rotation.run import run_rotation
from tests.integration.faults import Crash, Faults
from tests.integration.fixtures_extra import (
    LATER,
    clean_harness,
    client,
    delivered_key_id,
    items,
    journal,
    key_ids,
    mails_to,
    row,
    shared_botocore_loader,  # noqa: F401 - autouse: shared service models (speed)
    user_rows,
)


def test_a_clean_organization_rotates_every_due_user_and_exits_0(central: boto3.Session):
    harness = clean_harness(central)
    ids = harness.world.account_ids

    result = run_rotation(harness.services)

    assert result.exit_code == 0
    for account, user in (("prod", "alice"), ("dev", "dave"), ("ops", "olga")):
        assert [entry.outcome for entry in user_rows(result, ids[account], user)] == [Outcome.ROTATED]
        assert len(key_ids(harness, account, user)) == 2
    assert [entry.outcome for entry in user_rows(result, ids["prod"], "bob")] == [Outcome.NOT_DUE]


def test_access_denied_on_assume_role_fails_that_account_only(central: boto3.Session, monkeypatch: pytest.MonkeyPatch):
    harness = clean_harness(central)
    ids = harness.world.account_ids
    faults = Faults(monkeypatch)
    denied = faults.refuse(
        "AssumeRole",
        code="AccessDenied",
        message="not authorized to perform sts:AssumeRole",
        when=lambda params: f"::{ids['dev']}:" in params["RoleArn"],
    )

    result = run_rotation(harness.services)
    faults.clear()

    assert denied.hits == 1
    dev = row(result, ids["dev"])
    assert dev.status is AccountStatus.FAILED
    assert ids["dev"] in dev.detail
    assert "AccessDenied" in dev.detail
    assert "not authorized to perform sts:AssumeRole" in dev.detail
    assert dev.users == []
    for account, user in (("prod", "alice"), ("ops", "olga")):
        assert row(result, ids[account]).status is AccountStatus.DONE
        assert [entry.outcome for entry in user_rows(result, ids[account], user)] == [Outcome.ROTATED]
    assert result.exit_code == 1
    assert len(key_ids(harness, "dev", "dave")) == 1
    assert mails_to(harness, "dave@example.com") == []
    assert items(harness, "dev") == []


def _assert_nothing_lost(harness, result, old_keys):
    """Delivery failed for every due user: new keys removed, old keys kept, nothing scheduled."""
    ids = harness.world.account_ids
    for account, user in (("prod", "alice"), ("dev", "dave"), ("ops", "olga")):
        (entry,) = user_rows(result, ids[account], user)
        assert entry.outcome is Outcome.FAILED
        assert entry.failed
        assert old_keys[user] in entry.detail
        assert entry.new_key_id is not None
        assert f"new key {entry.new_key_id} removed" in entry.detail
        assert key_ids(harness, account, user) == [old_keys[user]]
        assert items(harness, account) == []
    assert journal(harness) == []
    assert result.exit_code == 1


def _old_keys(harness):
    return {
        user: key_ids(harness, account, user)[0]
        for account, user in (("prod", "alice"), ("dev", "dave"), ("ops", "olga"))
    }


def _assert_rerun_rotates(harness, old_keys):
    ids = harness.world.account_ids
    result = run_rotation(harness.services)
    assert result.exit_code == 0
    for account, user in (("prod", "alice"), ("dev", "dave"), ("ops", "olga")):
        (entry,) = user_rows(result, ids[account], user)
        assert entry.outcome is Outcome.ROTATED
        keys = key_ids(harness, account, user)
        assert keys == [old_keys[user], entry.new_key_id]
        (mail,) = mails_to(harness, f"{user}@example.com")
        assert delivered_key_id(harness, account, user, mail) == entry.new_key_id
        (scheduled,) = [i for i in items(harness, account) if i.user_name == user]
        assert scheduled.state is State.SCHEDULED
        assert scheduled.old_key_id == old_keys[user]
        assert scheduled.new_key_id == entry.new_key_id


def test_mail_down_removes_the_new_key_keeps_the_old_and_a_rerun_rotates(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    harness = clean_harness(central)
    old_keys = _old_keys(harness)
    faults = Faults(monkeypatch)
    harness.mailer.down = True

    result = run_rotation(harness.services)

    _assert_nothing_lost(harness, result, old_keys)
    assert harness.mailer.sent == []
    for entry in user_rows(result, harness.world.account_ids["prod"], "alice"):
        assert "mail system down" in entry.detail
    # No secret of a key that was made and removed again reached the result or a log line.
    secrets = [response["AccessKey"]["SecretAccessKey"] for response in faults.responses("CreateAccessKey")]
    assert len(secrets) == 3
    logged = "\n".join(str(record.__dict__) for record in caplog.records)
    assert "delivery failed; new key removed, old key kept" in logged
    for secret in secrets:
        assert secret not in result.model_dump_json()
        assert secret not in logged

    harness.mailer.down = False
    _assert_rerun_rotates(harness, old_keys)


def test_failing_key_store_removes_the_new_key_keeps_the_old_and_a_rerun_rotates(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch
):
    harness = clean_harness(central)
    old_keys = _old_keys(harness)
    faults = Faults(monkeypatch)
    refused = faults.refuse("PutParameter", code="AccessDenied", message="not authorized to perform ssm:PutParameter")

    result = run_rotation(harness.services)

    assert refused.hits == 3
    _assert_nothing_lost(harness, result, old_keys)
    assert harness.mailer.sent == []
    (alice,) = user_rows(result, harness.world.account_ids["prod"], "alice")
    assert "/ikr/secret/iam/alice" in alice.detail
    assert "AccessDenied" in alice.detail

    faults.clear()
    _assert_rerun_rotates(harness, old_keys)


def test_a_refused_write_of_a_secret_never_quotes_the_value_aws_echoed(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    harness = clean_harness(central)
    faults = Faults(monkeypatch)
    sent: list[str] = []
    refused = faults.refuse("PutParameter", code="ValidationException")

    def echo_the_value(params: dict[str, str]) -> bool:
        # AWS validation messages quote the offending value: here, the secret ikr tried to store
        sent.append(params["Value"])
        refused.error["Error"]["Message"] = f"Value '{params['Value']}' at 'value' failed to satisfy constraint"
        return True

    refused.when = echo_the_value

    result = run_rotation(harness.services)

    assert sent  # the pending pair (and the Fernet key) were offered and refused
    shown = [entry.detail for account in result.accounts for entry in account.users]
    shown += [str(record.__dict__) for record in caplog.records]
    for secret in sent:
        assert all(secret not in text for text in shown)
    (alice,) = user_rows(result, harness.world.account_ids["prod"], "alice")
    assert "ValidationException" in alice.detail


def test_refused_create_access_key_keeps_the_old_key_and_leaves_no_journal(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch
):
    harness = clean_harness(central)
    ids = harness.world.account_ids
    (old,) = key_ids(harness, "prod", "alice")
    faults = Faults(monkeypatch)
    faults.refuse("CreateAccessKey", code="AccessDenied", when=lambda params: params["UserName"] == "alice")

    result = run_rotation(harness.services)

    (alice,) = user_rows(result, ids["prod"], "alice")
    assert alice.outcome is Outcome.FAILED
    assert "could not create a new key: AccessDenied" in alice.detail
    assert f"old key {old} kept" in alice.detail
    assert key_ids(harness, "prod", "alice") == [old]
    assert [i for i in items(harness, "prod") if i.user_name == "alice"] == []
    assert journal(harness) == []
    assert mails_to(harness, "alice@example.com") == []
    # the others went on
    assert [entry.outcome for entry in user_rows(result, ids["dev"], "dave")] == [Outcome.ROTATED]
    assert result.exit_code == 1


def test_a_table_failure_for_one_user_does_not_stop_the_others(central: boto3.Session, monkeypatch: pytest.MonkeyPatch):
    harness = clean_harness(central)
    ids = harness.world.account_ids
    (old,) = key_ids(harness, "prod", "alice")
    faults = Faults(monkeypatch)
    faults.refuse(
        "PutItem",
        code="ProvisionedThroughputExceededException",
        status=400,
        when=lambda params: params["Item"]["user_name"]["S"] == "alice",
    )

    result = run_rotation(harness.services)

    (alice,) = user_rows(result, ids["prod"], "alice")
    assert alice.outcome is Outcome.FAILED
    assert "ProvisionedThroughputExceededException" in alice.detail
    assert key_ids(harness, "prod", "alice") == [old]  # the intent was never written: no key made
    assert [entry.outcome for entry in user_rows(result, ids["ops"], "olga")] == [Outcome.ROTATED]
    assert result.exit_code == 1


def test_an_undelivered_key_that_cannot_be_removed_stays_journalled_and_the_rerun_delivers_it(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch
):
    harness = clean_harness(central)
    ids = harness.world.account_ids
    (old,) = key_ids(harness, "prod", "alice")
    faults = Faults(monkeypatch)
    harness.mailer.down = True
    faults.refuse("DeleteAccessKey", code="AccessDenied", when=lambda params: params["UserName"] == "alice")

    result = run_rotation(harness.services)
    faults.clear()
    harness.mailer.down = False

    (alice,) = user_rows(result, ids["prod"], "alice")
    assert alice.outcome is Outcome.FAILED
    assert "AccessDenied" in alice.detail
    (left,) = journal(harness)
    assert (left.user_name, left.state) == ("alice", State.KEY_CREATED)
    assert key_ids(harness, "prod", "alice") == [old, left.new_key_id]  # nothing lost, nothing mailed
    assert harness.mailer.sent == []

    rerun = run_rotation(harness.services)

    # the key is still there and its pair still kept: the rerun retries the delivery of that key
    recovered, waiting = user_rows(rerun, ids["prod"], "alice")
    assert recovered.outcome is Outcome.RECOVERED
    assert recovered.new_key_id == left.new_key_id
    assert waiting.outcome is Outcome.PENDING
    assert key_ids(harness, "prod", "alice") == [old, left.new_key_id]
    assert len(mails_to(harness, "alice@example.com")) == 1
    assert journal(harness) == []


def test_a_journal_entry_of_a_user_deleted_after_a_crash_does_not_block_the_account(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch
):
    harness = clean_harness(central)
    ids = harness.world.account_ids
    iam = client(harness, "prod", "iam")
    iam.create_user(UserName="amy", Tags=[{"Key": "IKR:EMAIL", "Value": "amy@example.com"}])
    iam.create_access_key(UserName="amy")
    faults = Faults(monkeypatch)
    faults.crash_after("CreateAccessKey", when=lambda params: params["UserName"] == "alice")
    with pytest.raises(Crash):
        run_rotation(harness.services)
    faults.clear()
    # an administrator removes alice before the next run
    for key in key_ids(harness, "prod", "alice"):
        iam.delete_access_key(UserName="alice", AccessKeyId=key)
    iam.delete_user(UserName="alice")

    result = run_rotation(harness.services)

    prod = row(result, ids["prod"])
    assert prod.status is AccountStatus.DONE, prod.detail
    assert [entry.outcome for entry in user_rows(result, ids["prod"], "amy")] == [Outcome.ROTATED]


def test_a_malformed_expiry_item_does_not_stop_the_run(central: boto3.Session):
    harness = clean_harness(central)
    ids = harness.world.account_ids
    # e.g. written by hand, or by an older ikr with another item schema
    central.client("dynamodb").put_item(
        TableName=harness.table.name,
        Item={
            "account_id": {"S": ids["prod"]},
            "item_key": {"S": "alice#AKIAHANDWRITTEN0000"},
            "state": {"S": "scheduled"},
            "expires_at": {"N": str(epoch(LATER - timedelta(days=1)))},
        },
    )

    result = run_rotation(harness.services)

    for account, user in (("dev", "dave"), ("ops", "olga")):
        assert [entry.outcome for entry in user_rows(result, ids[account], user)] == [Outcome.ROTATED]
