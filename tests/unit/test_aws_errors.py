"""AWS failures become ikr's errors by kind, with the operation and resource named and the flags a
caller decides on; botocore's own exceptions, as a client raises them."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from central.aws.errors import (
    AwsAccessDenied,
    AwsAlreadyExists,
    AwsConditionFailed,
    AwsError,
    AwsInvalidRequest,
    AwsLimitExceeded,
    AwsNotFound,
    AwsThrottled,
    AwsUnavailable,
    aws_call,
    translate,
)
from central.domain import redaction


def client_error(code: str, status: int = 400, message: str = "it went wrong") -> ClientError:
    response: Any = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "AnOperation")


@pytest.mark.parametrize(
    ("code", "kind", "retryable", "uncertain"),
    [
        ("ThrottlingException", AwsThrottled, True, False),
        ("TooManyRequestsException", AwsThrottled, True, False),
        ("Throttling", AwsThrottled, True, False),
        ("ServiceUnavailable", AwsUnavailable, True, True),
        ("InternalFailure", AwsUnavailable, True, True),
        ("NoSuchEntity", AwsNotFound, False, False),
        ("ParameterNotFound", AwsNotFound, False, False),
        ("AccessDenied", AwsAccessDenied, False, False),
        ("AccessDeniedException", AwsAccessDenied, False, False),
        ("ConditionalCheckFailedException", AwsConditionFailed, False, False),
        ("EntityAlreadyExists", AwsAlreadyExists, False, False),
        ("LimitExceeded", AwsLimitExceeded, False, False),
        ("ValidationException", AwsInvalidRequest, False, False),
        ("SomethingNobodyHasSeen", AwsError, False, False),
    ],
)
def test_each_answer_gets_its_kind_and_flags(code: str, kind: type[AwsError], retryable: bool, uncertain: bool):
    error = translate(client_error(code), "iam:CreateAccessKey", "user alice in account 111122223333")
    assert type(error) is kind
    assert (error.retryable, error.uncertain, error.code) == (retryable, uncertain, code)
    assert str(error) == f"iam:CreateAccessKey (user alice in account 111122223333): {code}: it went wrong"


def test_an_unknown_code_with_a_server_status_is_unavailable_and_uncertain():
    error = translate(client_error("WeirdServerThing", status=503), "ssm:PutParameter")
    assert isinstance(error, AwsUnavailable)
    assert (error.retryable, error.uncertain) == (True, True)


@pytest.mark.parametrize(
    ("exc", "uncertain"),
    [
        (EndpointConnectionError(endpoint_url="https://iam.amazonaws.com"), False),
        (ConnectTimeoutError(endpoint_url="https://iam.amazonaws.com"), False),
        (ReadTimeoutError(endpoint_url="https://iam.amazonaws.com"), True),
        (ConnectionClosedError(endpoint_url="https://iam.amazonaws.com"), True),
    ],
)
def test_a_lost_connection_is_retryable_and_uncertain_only_once_the_request_may_have_been_sent(
    exc: BotoCoreError, uncertain: bool
):
    error = translate(exc, "iam:CreateAccessKey")
    assert isinstance(error, AwsUnavailable)
    assert (error.retryable, error.uncertain) == (True, uncertain)


def test_other_botocore_failures_are_neither_retryable_nor_uncertain():
    error = translate(NoCredentialsError(), "sts:AssumeRole", "account 111122223333")
    assert type(error) is AwsError
    assert (error.retryable, error.uncertain) == (False, False)


def test_aws_call_raises_the_translation_chained_to_the_original():
    original = client_error("NoSuchEntity")
    with pytest.raises(AwsNotFound) as caught, aws_call("iam:ListAccessKeys", "user bob"):
        raise original
    assert caught.value.__cause__ is original
    assert "user bob" in str(caught.value)


def test_a_secret_in_an_aws_message_is_scrubbed():
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    redaction.remember(secret)
    try:
        error = translate(client_error("ValidationException", message=f"bad value {secret}"), "ssm:PutParameter")
    finally:
        redaction.forget_all()
    assert secret not in str(error)
