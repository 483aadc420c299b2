"""Administrator commands enter member accounts through an administrator role, not ikr's own."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from central.cli.main import main
from tests.integration.faults import Faults

pytestmark = pytest.mark.usefixtures("ikr_logging_restored")

MEMBER = "210987654321"


def _tag_file(tmp_path: Path) -> Path:
    path = tmp_path / "tags.json"
    path.write_text(json.dumps({MEMBER: {"svc-ci": {"IKR:EMAIL": "ci@example.com"}}}), encoding="utf-8")
    return path


@pytest.fixture
def member_user(central: boto3.Session) -> None:
    creds = central.client("sts").assume_role(RoleArn=f"arn:aws:iam::{MEMBER}:role/x", RoleSessionName="setup")[
        "Credentials"
    ]
    boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name="us-east-1",
    ).client("iam").create_user(UserName="svc-ci")


@pytest.mark.usefixtures("member_user")
def test_tag_users_assumes_the_organization_admin_role_without_the_ikr_external_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("IKR_EXTERNAL_ID", "ikr-only-secret")
    faults = Faults(monkeypatch)

    assert main(["tag-users", str(_tag_file(tmp_path))]) == 0

    (assume,) = [call for call in faults.calls if call.operation == "AssumeRole"]
    assert assume.params["RoleArn"] == f"arn:aws:iam::{MEMBER}:role/OrganizationAccountAccessRole"
    assert "ExternalId" not in assume.params


@pytest.mark.usefixtures("member_user")
def test_tag_users_with_the_member_role_passes_its_external_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("IKR_EXTERNAL_ID", "ikr-only-secret")
    faults = Faults(monkeypatch)

    assert main(["tag-users", "--role", "ikr-member", str(_tag_file(tmp_path))]) == 0

    (assume,) = [call for call in faults.calls if call.operation == "AssumeRole"]
    assert assume.params["RoleArn"] == f"arn:aws:iam::{MEMBER}:role/ikr-member"
    assert assume.params["ExternalId"] == "ikr-only-secret"
