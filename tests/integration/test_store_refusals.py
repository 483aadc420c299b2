"""Delivery targets as AWS really refuses them (issue 16.5). moto lets a `String` parameter be
overwritten as `SecureString`, a secret scheduled for deletion take a new value, and knows no KMS key
policies; AWS refuses each. The refusals are injected through botocore (`Faults.refuse`) where moto is
kinder. Each ends as that user's "delivery refused" row naming the target and what to do: the new key
removed, the old key kept, nothing scheduled, no notice that points at a key that is not there, and
the next user and the next run carry on (no crash, no retry loop: a refusal only a person can mend
waits for the daily run, not the retry run's minutes)."""

from __future__ import annotations

import boto3
import pytest

from central.domain.results import Outcome, UserResult
from central.rotation.run import run_rotation
from tests.integration.conftest import Harness
from tests.integration.faults import Faults
from tests.integration.fixtures_extra import (
    client,
    items,
    key_ids,
    mails_to,
    shared_botocore_loader,  # noqa: F401 - autouse: shared service models (speed)
    user_rows,
)
from tests.integration.test_machine_users import OWNER, PARAMETER, SECRET
from tests.integration.test_machine_users import _harness as machine_users_harness

_harness = machine_users_harness  # deployer → secret ikr/ci/deployer, nightly → parameter /ikr/jobs/nightly


def _refused(harness: Harness, user: str, rows: list[UserResult], before: list[str]) -> str:
    """The user's row is a refused delivery that cost nothing; its detail."""
    (entry,) = rows
    assert entry.outcome is Outcome.FAILED
    detail = entry.detail
    assert "delivery refused" in detail
    assert f"old key {before[0]} kept" in detail
    assert key_ids(harness, "prod", user) == before  # the new key removed again
    assert user not in {item.user_name for item in items(harness, "prod")}  # nothing scheduled, no journal
    assert not [mail for mail in mails_to(harness, OWNER) if user in mail.subject + mail.text]  # nobody told
    assert _marked_for_retry(harness) == set()  # not retried within minutes: a person must mend it
    return detail


def _marked_for_retry(harness: Harness) -> set[str]:
    """The accounts the retry run would work (every mark, due or not)."""
    far = 2**31
    return {mark.account_id for mark in harness.services.table.retries.due(far).marks}


@pytest.mark.parametrize("code", ["HierarchyTypeMismatchException", "ParameterAlreadyExists"])
def test_a_string_parameter_that_cannot_become_secure_is_a_refused_delivery(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch, code: str
):
    harness = _harness(central)
    ssm = client(harness, "prod", "ssm")
    ssm.put_parameter(Name=PARAMETER, Value="a plain value", Type="String")
    before = key_ids(harness, "prod", "nightly")
    faults = Faults(monkeypatch)
    faults.refuse(
        "PutParameter",
        code=code,
        message="The parameter type can't be changed",
        when=lambda params: params.get("Name") == PARAMETER,
        status=400,
    )

    result = run_rotation(harness.services)
    again = run_rotation(harness.services)  # the next run meets the same refusal the same way

    prod = harness.world.account_ids["prod"]
    for run in (result, again):
        detail = _refused(harness, "nightly", user_rows(run, prod, "nightly"), before)
        assert f"cannot write the new key to SSM SecureString parameter {PARAMETER}: {code}" in detail
        assert "exists as a String or StringList" in detail
        assert f"aws ssm delete-parameter --name {PARAMETER}" in detail
    assert [call.params["Name"] for call in faults.calls if call.operation == "PutParameter"].count(PARAMETER) == 2
    assert ssm.get_parameter(Name=PARAMETER)["Parameter"]["Value"] == "a plain value"
    (deployer,) = user_rows(result, prod, "deployer")
    assert deployer.outcome is Outcome.ROTATED  # the next user carried on
    assert result.exit_code == 1


def test_a_secret_scheduled_for_deletion_is_a_refused_delivery_that_says_how_to_restore_it(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch
):
    harness = _harness(central)
    secrets = client(harness, "prod", "secretsmanager")
    secrets.create_secret(Name=SECRET, SecretString="{}")
    secrets.delete_secret(SecretId=SECRET, RecoveryWindowInDays=7)
    before = key_ids(harness, "prod", "deployer")
    faults = Faults(monkeypatch)
    faults.refuse(
        "PutSecretValue",
        code="InvalidRequestException",
        message="You can't perform this operation on the secret because it was marked for deletion.",
        status=400,
    )

    result = run_rotation(harness.services)

    detail = _refused(harness, "deployer", user_rows(result, harness.world.account_ids["prod"], "deployer"), before)
    assert f"Secrets Manager secret {SECRET}: InvalidRequestException" in detail
    assert "scheduled for deletion and takes no new value" in detail
    assert f"restore it with `aws secretsmanager restore-secret --secret-id {SECRET}`" in detail
    assert "marked for deletion" not in detail  # AWS's own message is never repeated
    assert "CreateSecret" not in faults.operations("secretsmanager")  # no second secret of that name


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("AccessDeniedException", "Access to KMS is not allowed"),
        ("EncryptionFailure", "Secrets Manager can't encrypt the protected secret text using the provided KMS key."),
    ],
)
def test_a_secret_whose_kms_key_the_member_role_may_not_use_is_a_refused_delivery(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch, code: str, message: str
):
    harness = _harness(central)
    client(harness, "prod", "secretsmanager").create_secret(Name=SECRET, SecretString="{}")
    before = key_ids(harness, "prod", "deployer")
    Faults(monkeypatch).refuse("PutSecretValue", code=code, message=message, status=400)

    result = run_rotation(harness.services)

    detail = _refused(harness, "deployer", user_rows(result, harness.world.account_ids["prod"], "deployer"), before)
    assert f"Secrets Manager secret {SECRET}: {code} (" in detail
    assert "kms:GenerateDataKey and kms:Decrypt" in detail


def test_a_parameter_name_ssm_would_refuse_is_a_tag_problem_before_any_key_is_made(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch
):
    deep = "/ikr/" + "/".join(f"level{n}" for n in range(2, 17))  # 16 levels
    harness = _harness(central, deep={"IKR:DELIVERY": f"ssm:{deep}"})
    before = key_ids(harness, "prod", "deep")
    faults = Faults(monkeypatch)

    result = run_rotation(harness.services)

    (entry,) = user_rows(result, harness.world.account_ids["prod"], "deep")
    assert entry.outcome is Outcome.SKIPPED
    assert entry.failed
    assert f"IKR:DELIVERY='ssm:{deep}': the parameter name has 16 levels; SSM allows 15" in entry.detail
    assert key_ids(harness, "prod", "deep") == before
    assert [c for c in faults.calls if c.operation == "CreateAccessKey" and c.params.get("UserName") == "deep"] == []
    assert result.exit_code == 1


def test_a_store_throttled_past_every_retry_is_tried_again_within_minutes(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch
):
    """Throttling mends by itself: the user is postponed to the retry run, unlike a refusal."""
    harness = _harness(central)
    before = key_ids(harness, "prod", "nightly")
    Faults(monkeypatch).refuse(
        "PutParameter",
        code="ThrottlingException",
        message="Rate exceeded",
        when=lambda params: params.get("Name") == PARAMETER,
        status=400,
    )

    result = run_rotation(harness.services)

    prod = harness.world.account_ids["prod"]
    (entry,) = user_rows(result, prod, "nightly")
    assert entry.outcome is Outcome.FAILED
    assert key_ids(harness, "prod", "nightly") == before  # the new key removed again, the old one kept
    assert _marked_for_retry(harness) == {prod}
