"""The rotator's re-invocation of itself (`central.aws.relaunch`), against botocore's Stubber."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber

from central.aws import clients
from central.aws.errors import AwsError
from central.aws.relaunch import relaunch
from central.rotation.continuation import continue_event, continuing


@pytest.fixture
def session() -> boto3.Session:
    return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")


def test_the_rotator_invokes_itself_asynchronously_with_the_run_to_continue(session: boto3.Session):
    with Stubber(clients.lambda_(session)) as stub:
        stub.add_response(
            "invoke",
            {"StatusCode": 202},
            {
                "FunctionName": "ikr-rotator",
                "InvocationType": "Event",
                "Payload": json.dumps({"ikr_continue_run": "5fe77bfb99f5"}).encode(),
            },
        )
        relaunch(session, "ikr-rotator", "5fe77bfb99f5")
        stub.assert_no_pending_responses()


def test_a_refused_invocation_is_an_aws_error_naming_the_function(session: boto3.Session):
    with Stubber(clients.lambda_(session)) as stub:
        stub.add_client_error("invoke", "AccessDeniedException", "not allowed", 403)
        with pytest.raises(AwsError, match="ikr-rotator"):
            relaunch(session, "ikr-rotator", "5fe77bfb99f5")


def test_only_a_continuation_event_names_a_run():
    assert continuing(continue_event("5fe77bfb99f5")) == "5fe77bfb99f5"
    assert continuing({"source": "aws.events", "detail": {}}) is None
    assert continuing({"ikr_continue_run": ""}) is None
    assert continuing(["not", "a", "map"]) is None
