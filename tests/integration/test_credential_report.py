"""The credential report against moto: generated once, read in two calls, slots matched to keys."""

from __future__ import annotations

import boto3
import pytest

from central.aws import clients as aws
from central.aws.credential_report import fetch_credential_report, match_keys
from central.aws.iam_inventory import access_keys
from tests.integration.faults import Faults


def test_two_calls_describe_every_key_of_the_account(central: boto3.Session, monkeypatch: pytest.MonkeyPatch):
    iam = aws.iam(central)
    iam.create_user(UserName="alice")
    first = iam.create_access_key(UserName="alice")["AccessKey"]["AccessKeyId"]
    iam.create_access_key(UserName="alice")
    iam.update_access_key(UserName="alice", AccessKeyId=first, Status="Inactive")
    iam.create_user(UserName="bob")
    fetch_credential_report(iam, sleep=lambda _: None)  # IAM starts building it

    faults = Faults(monkeypatch)
    report = fetch_credential_report(iam, sleep=lambda _: None)

    assert faults.operations() == ["GenerateCredentialReport", "GetCredentialReport"]
    alice = report.row("alice")
    assert alice is not None
    assert sorted(k.active for k in alice.keys) == [False, True]
    matched = match_keys(access_keys(iam, "alice"), alice)
    assert matched[first].active is False
    bob = report.row("bob")
    assert bob is not None
    assert bob.keys == ()
