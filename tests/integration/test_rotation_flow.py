"""Rotation and destruction across several accounts of one Organization (moto in process)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from central.clock import fixed_clock
from central.domain.results import AccountStatus, Outcome
from central.rotation.run import run_rotation
from tests.integration.conftest import Harness

LATER = datetime.now(UTC) + timedelta(days=100)


def outcomes(result, account_id):
    account = next(a for a in result.accounts if a.account_id == account_id)
    return {user.user: user.outcome for user in account.users}


def test_a_run_rotates_due_users_in_opted_in_accounts_only(harness: Harness):
    harness.services.clock = fixed_clock(LATER)
    ids = harness.world.account_ids

    result = run_rotation(harness.services)

    statuses = {a.account_id: a.status for a in result.accounts}
    assert statuses[ids["sandbox"]] is AccountStatus.NOT_OPTED_IN
    assert statuses[harness.world.management_id] is AccountStatus.NOT_OPTED_IN
    assert outcomes(result, ids["prod"]) == {
        "alice": Outcome.ROTATED,
        "bob": Outcome.NOT_DUE,
        "carol": Outcome.SKIPPED,
    }
    assert outcomes(result, ids["dev"]) == {"dave": Outcome.ROTATED, "erin": Outcome.SKIPPED}
    assert result.exit_code == 1  # carol's tag is bad input
    assert sorted(mail.to for mail in harness.mailer.sent) == ["alice@example.com", "dave@example.com"]
    alice_keys = harness.world.iam("prod").list_access_keys(UserName="alice")["AccessKeyMetadata"]
    assert len(alice_keys) == 2


def test_a_tag_typo_is_named_and_fails_the_exit_code_but_the_user_is_still_rotated(harness: Harness):
    harness.services.clock = fixed_clock(LATER)
    iam = harness.world.iam("dev")
    iam.tag_user(UserName="dave", Tags=[{"Key": "IKR:DELETE_AFTER_DAY", "Value": "2"}])

    result = run_rotation(harness.services, only=[harness.world.account_ids["dev"]])

    dave = next(user for user in result.accounts[0].users if user.user == "dave")
    assert dave.outcome is Outcome.ROTATED
    assert dave.failed is True
    assert "IKR:DELETE_AFTER_DAY is not a tag ikr reads" in dave.detail
    assert result.exit_code == 1
    assert [mail.to for mail in harness.mailer.sent] == ["dave@example.com"]


def test_a_user_name_ssm_cannot_hold_is_rotated_with_its_key_under_an_encoded_name(harness: Harness):
    # IAM allows '@' in user names; SSM parameter names do not (moto accepts them, AWS refuses)
    harness.services.clock = fixed_clock(LATER)
    iam = harness.world.iam("dev")
    iam.create_user(UserName="john.doe@corp.com", Tags=[{"Key": "IKR:EMAIL", "Value": "john@example.com"}])
    iam.create_access_key(UserName="john.doe@corp.com")

    result = run_rotation(harness.services, only=[harness.world.account_ids["dev"]])

    john = next(user for user in result.accounts[0].users if user.user == "john.doe@corp.com")
    assert john.outcome is Outcome.ROTATED
    encoded = "/ikr/secret/iam/x/" + b"john.doe@corp.com".hex()
    ssm = harness.world.session(harness.world.account_ids["dev"]).client("ssm")
    assert ssm.get_parameter(Name=encoded, WithDecryption=True)["Parameter"]["Value"]
    (mail,) = [mail for mail in harness.mailer.sent if mail.to == "john@example.com"]
    assert encoded in mail.text
