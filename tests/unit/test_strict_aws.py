"""The strict AWS layer (tests/support/strict_aws.py) refuses what AWS would, and only that."""

from __future__ import annotations

import boto3
import botocore.session
import pytest
from botocore.exceptions import ParamValidationError

from tests.support import strict_aws
from tests.support.strict_aws import violations_of

_models = botocore.session.get_session()


def _problems(service: str, operation: str, params: dict[str, object]) -> list[tuple[str, str]]:
    return violations_of(_models.get_service_model(service).operation_model(operation).input_shape, params)


def test_a_request_within_the_model_passes():
    params = {"UserName": "ci-deployer", "Tags": [{"Key": "IKR:EMAIL", "Value": "ci@example.com"}]}
    assert _problems("iam", "CreateUser", params) == []


def test_pattern_length_enum_list_size_and_range_are_checked():
    problems = dict(_problems("iam", "CreateUser", {"UserName": "x" * 65, "Tags": [{"Key": "k", "Value": "a,b"}] * 51}))
    assert "above the model's maximum 64" in problems["UserName"]
    assert "list size 51" in problems["Tags"]
    assert "does not match the model's pattern" in problems["Tags[0].Value"]
    enum = dict(_problems("iam", "UpdateAccessKey", {"UserName": "u", "AccessKeyId": "A" * 20, "Status": "Off"}))
    assert "not one of the model's values ['Active', 'Expired', 'Inactive']" in enum["Status"]
    numbers = dict(_problems("iam", "ListUsers", {"MaxItems": 1001}))
    assert "above the model's maximum 1000" in numbers["MaxItems"]


def test_supplementary_characters_match_a_surrogate_pair_range():
    """The models write characters beyond U+FFFF as UTF-16 surrogate ranges (Java): read as code points."""
    assert _problems("ssm", "PutParameter", {"Name": "/ikr/x", "Value": "v", "Description": "rocket \U0001f680"}) == []


def test_a_request_aws_would_refuse_is_refused_before_it_is_sent_and_recorded():
    iam = boto3.Session(aws_access_key_id="k", aws_secret_access_key="s", region_name="us-east-1").client("iam")
    before = len(strict_aws.RECORD.violations)
    try:
        with pytest.raises(ParamValidationError, match=r"strict AWS layer, iam:CreateUser would be refused"):
            iam.create_user(UserName="bad name with spaces")
        (violation,) = strict_aws.RECORD.violations[before:]
        assert (violation.operation, violation.path) == ("iam:CreateUser", "UserName")
    finally:
        del strict_aws.RECORD.violations[before:]  # refused on purpose: not this test's failure
