"""SessionBroker: one AssumeRole per account and run, the ExternalId and an ikr session name, and
member sessions that share decoded service models."""

from __future__ import annotations

import boto3
import pytest

from central.aws import clients as aws
from central.aws.sessions import SessionBroker
from central.domain.errors import AccountAccessError
from tests.integration.faults import Faults

MEMBER_A, MEMBER_B = "210987654321", "310987654321"


def test_a_member_session_is_assumed_once_per_run_with_external_id_and_an_ikr_session_name(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch
):
    faults = Faults(monkeypatch)
    broker = SessionBroker(central, "ikr-member", external_id="org-secret-id", purpose="rotate")

    first = broker.session_for(MEMBER_A)
    again = broker.session_for(MEMBER_A)

    assert first is again
    assume = [call for call in faults.calls if call.operation == "AssumeRole"]
    assert len(assume) == 1
    assert assume[0].params["RoleArn"] == f"arn:aws:iam::{MEMBER_A}:role/ikr-member"
    assert assume[0].params["ExternalId"] == "org-secret-id"
    assert assume[0].params["RoleSessionName"] == "ikr-rotate"
    assert aws.sts(first).get_caller_identity()["Account"] == MEMBER_A


def test_the_central_account_is_used_without_assuming_a_role(central: boto3.Session):
    broker = SessionBroker(central, "ikr-member")

    assert broker.session_for("123456789012") is central


def test_a_refused_assume_role_is_that_accounts_error_naming_the_role(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch
):
    Faults(monkeypatch).refuse("AssumeRole", code="AccessDenied", message="not authorized to assume")
    broker = SessionBroker(central, "ikr-member")

    with pytest.raises(AccountAccessError) as caught:
        broker.session_for(MEMBER_A)

    assert caught.value.account_id == MEMBER_A
    assert f"arn:aws:iam::{MEMBER_A}:role/ikr-member" in str(caught.value)
    assert "AccessDenied" in str(caught.value)


def test_member_sessions_share_one_model_loader_and_clients_are_built_once(central: boto3.Session):
    broker = SessionBroker(central, "ikr-member")
    a, b = broker.session_for(MEMBER_A), broker.session_for(MEMBER_B)

    assert a._session.get_component("data_loader") is b._session.get_component("data_loader")
    paths = a._session.get_component("data_loader").search_paths
    assert len(paths) == len(set(paths))  # no growth per session
    assert aws.iam(a) is aws.iam(a)
    assert aws.iam(a) is not aws.iam(b)
