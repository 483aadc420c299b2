"""`ikr deploy`'s checks before it touches anything, against answers AWS gives and moto 5.2 cannot:
moto has neither lambda:GetAccountSettings nor cloudformation:DescribeOrganizationsAccess (its server
answers 404 / an HTML 500), and its S3 never refuses a HeadObject with 403. The answers are injected
with botocore's Stubber, or as raw HTTP answers from a `before-send` handler, into the very clients
the adapters use, so botocore parses them as it parses AWS's. The `session` (credentials that reach
nothing) and `stubbed` fixtures are tests/unit/test_aws_edge_adapters.py's (tests/deploy/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from central.aws import clients as aws
from central.aws.cloudformation import CloudFormation
from central.aws.errors import AwsAccessDenied
from central.aws.lambda_account import Concurrency, LambdaAccount
from central.aws.s3 import Bucket
from central.deploy import checks, template
from central.deploy.checks import DeployRefused
from central.deploy.upload import UploadRefused, upload

DEFAULT_RESERVATIONS = {
    "AccountWorkerFunction": 5,
    "DestructorFunction": 10,
    "ReporterFunction": 1,
    "RotatorFunction": 1,
}


def settings_answer(limit: int, unreserved: int) -> dict[str, Any]:
    return {
        "AccountLimit": {
            "TotalCodeSize": 80530636800,
            "CodeSizeUnzipped": 262144000,
            "CodeSizeZipped": 52428800,
            "ConcurrentExecutions": limit,
            "UnreservedConcurrentExecutions": unreserved,
        },
        "AccountUsage": {"TotalCodeSize": 0, "FunctionCount": 0},
    }


def lines_of(call: Callable[[Callable[[str], None]], None]) -> list[str]:
    out: list[str] = []
    call(out.append)
    return out


# -- Lambda concurrency ------------------------------------------------------------------------------
def test_the_template_reserves_nothing_unless_asked_and_what_it_would_reserve() -> None:
    central = template.load(template.CENTRAL_TEMPLATE)
    parameters = template.parameters(central)
    assert parameters[checks.RESERVE_PARAMETER]["Default"] == "false"
    for name, body in template.resources_of_type(central, "AWS::Lambda::Function").items():
        reserved = body["Properties"]["ReservedConcurrentExecutions"]
        assert reserved["Fn::If"][0] == "ReservesConcurrency", name
        assert reserved["Fn::If"][2] == {"Ref": "AWS::NoValue"}, name
    assert central["Conditions"]["ReservesConcurrency"] == {"Fn::Equals": [{"Ref": "ReserveConcurrency"}, "true"]}
    defaults = checks.reservations(central, lambda key: str(parameters[key]["Default"]))
    assert defaults == DEFAULT_RESERVATIONS  # the account worker's is its queue cap, AccountWorkerMaxConcurrency


def test_a_new_account_quota_of_10_deploys_without_reservations_and_says_what_it_allows(session, stubbed) -> None:
    client = aws.lambda_(session)
    stubbed(client).add_response("get_account_settings", settings_answer(10, 10), {})
    out = lines_of(
        lambda say: checks.check_concurrency(LambdaAccount(client, "us-east-1"), False, DEFAULT_RESERVATIONS, 0, 5, say)
    )
    assert out[0].startswith("lambda concurrency: quota 10, 10 unreserved (AWS keeps 100 unreserved); ikr reserves")
    assert "at most 5 at once (its queue's MaximumConcurrency)" in out[0]
    assert "raise it with Service Quotas: AWS Lambda, Concurrent executions (L-B99A9384)" in out[1]


def test_reservations_that_do_not_fit_are_refused_before_anything_is_touched(session, stubbed) -> None:
    client = aws.lambda_(session)
    stubbed(client).add_response("get_account_settings", settings_answer(10, 10), {})
    with pytest.raises(DeployRefused) as refused:
        checks.check_concurrency(LambdaAccount(client, "us-east-1"), True, DEFAULT_RESERVATIONS, 0, 5, print)
    message = str(refused.value)
    assert "ReserveConcurrency=true reserves 17 concurrent executions" in message
    assert "AccountWorkerFunction 5, DestructorFunction 10, ReporterFunction 1, RotatorFunction 1" in message
    assert "quota of 10 with 10 unreserved leaves 0 to reserve: AWS keeps 100 unreserved" in message
    assert "Deploy with ReserveConcurrency=false" in message


def test_reservations_that_fit_are_said_and_an_update_counts_what_ikr_holds_already() -> None:
    fits = checks.concurrency_lines(Concurrency(limit=1000, unreserved=1000), True, DEFAULT_RESERVATIONS, 0, 5)
    assert fits == [
        "lambda concurrency: quota 1000, 1000 unreserved (AWS keeps 100 unreserved); ReserveConcurrency=true "
        "reserves 17 (AccountWorkerFunction 5, DestructorFunction 10, ReporterFunction 1, RotatorFunction 1) "
        "of 900 reservable"
    ]
    # 117 unreserved is 17 reservable: exactly what an update of a reserving stack holds already plus 0.
    tight = Concurrency(limit=117, unreserved=100)
    assert checks.concurrency_lines(tight, True, DEFAULT_RESERVATIONS, 17, 5)[0].endswith("of 17 reservable")
    with pytest.raises(DeployRefused):
        checks.concurrency_lines(tight, True, DEFAULT_RESERVATIONS, 0, 5)


def test_a_quota_that_cannot_be_read_is_said_and_the_deploy_goes_on(session, stubbed) -> None:
    client = aws.lambda_(session)
    stubbed(client).add_client_error("get_account_settings", "AccessDeniedException", "no", 403)
    out = lines_of(
        lambda say: checks.check_concurrency(LambdaAccount(client, "eu-west-1"), True, DEFAULT_RESERVATIONS, 0, 5, say)
    )
    assert out == [
        "lambda concurrency: not checked (lambda:GetAccountSettings (the account's Lambda quota in eu-west-1): "
        "AccessDeniedException: no); CloudFormation refuses a reservation that does not fit"
    ]


# -- trusted access for StackSets ----------------------------------------------------------------------
@pytest.mark.parametrize("call_as", ["SELF", "DELEGATED_ADMIN"])
def test_trusted_access_on_is_said(session, stubbed, call_as: str) -> None:
    client = aws.cloudformation(session)
    stubbed(client).add_response("describe_organizations_access", {"Status": "ENABLED"}, {"CallAs": call_as})
    assert lines_of(lambda say: checks.check_trusted_access(CloudFormation(client), call_as, say)) == [
        "trusted access for StackSets: on"
    ]


def test_trusted_access_off_is_refused_with_the_exact_command(session, stubbed) -> None:
    client = aws.cloudformation(session)
    stubbed(client).add_response("describe_organizations_access", {"Status": "DISABLED"}, {"CallAs": "DELEGATED_ADMIN"})
    with pytest.raises(DeployRefused) as refused:
        checks.check_trusted_access(CloudFormation(client), "DELEGATED_ADMIN", print)
    message = str(refused.value)
    assert "\n  aws cloudformation activate-organizations-access\n" in message
    check = "`aws cloudformation describe-organizations-access --call-as DELEGATED_ADMIN` (it answers ENABLED)"
    assert check in message
    assert "enable-aws-service-access" not in message  # AWS says not to use it for StackSets


def test_trusted_access_disabled_for_good_is_refused(session, stubbed) -> None:
    client = aws.cloudformation(session)
    stubbed(client).add_response(
        "describe_organizations_access", {"Status": "DISABLED_PERMANENTLY"}, {"CallAs": "SELF"}
    )
    with pytest.raises(DeployRefused, match="is DISABLED_PERMANENTLY: service-managed StackSets cannot deploy"):
        checks.check_trusted_access(CloudFormation(client), "SELF", print)


@pytest.mark.parametrize(("code", "status"), [("AccessDenied", 403), ("InvalidOperationException", 400)])
def test_trusted_access_that_cannot_be_read_is_said_with_the_command(session, stubbed, code: str, status: int) -> None:
    client = aws.cloudformation(session)
    stubbed(client).add_client_error("describe_organizations_access", code, "not you", status)
    out = lines_of(lambda say: checks.check_trusted_access(CloudFormation(client), "SELF", say))
    assert len(out) == 1
    assert out[0].startswith("trusted access for StackSets: not checked (cloudformation:DescribeOrganizationsAccess")
    assert out[0].endswith(
        "if the StackSet fails, run `aws cloudformation activate-organizations-access` with the management "
        "account's credentials"
    )


# -- the artifact bucket on real S3 -------------------------------------------------------------------
def answer(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Callable[..., AWSResponse]:
    """A raw HTTP answer, parsed by botocore as AWS's own (a HEAD answer has no body)."""

    class Raw:
        def stream(self, **_: Any) -> Iterator[bytes]:
            yield body

    def handler(request: Any, **_: Any) -> AWSResponse:
        return AWSResponse(request.url, status, headers or {}, Raw())

    return handler


ACCESS_DENIED = b"""<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>R</RequestId></Error>"""


@pytest.fixture
def bucket(session: boto3.Session) -> tuple[Bucket, Any]:
    client = aws.s3(session)
    return Bucket(client, "ikr-artifacts"), client.meta.events


def test_head_403_is_access_denied_naming_the_object(bucket) -> None:
    store, events = bucket
    events.register_first("before-send.s3.HeadObject", answer(403))
    with pytest.raises(AwsAccessDenied) as denied:
        store.has("ikr/lambda-x.zip")
    assert str(denied.value).startswith("s3:HeadObject (s3://ikr-artifacts/ikr/lambda-x.zip): 403")


def test_a_403_on_head_names_the_missing_permissions_and_uploads(bucket, tmp_path: Path) -> None:
    store, events = bucket
    events.register_first("before-send.s3.HeadObject", answer(403))
    sent: list[str] = []

    def put(request: Any, **_: Any) -> AWSResponse:
        sent.append(request.url)
        return answer(200, headers={"ETag": '"e"'})(request)

    events.register_first("before-send.s3.PutObject", put)
    artifact = tmp_path / "ikr-lambda.zip"
    artifact.write_bytes(b"zip")
    out: list[str] = []
    upload(store, "ikr/lambda-x.zip", artifact, out.append, "aws-cn")
    assert sent == ["https://ikr-artifacts.s3.amazonaws.com/ikr/lambda-x.zip"]
    assert out == [
        "s3://ikr-artifacts/ikr/lambda-x.zip: HeadObject was refused (403), so ikr cannot tell whether it is "
        "there: without s3:ListBucket on arn:aws-cn:s3:::ikr-artifacts S3 answers 403 for a missing object, and "
        "without s3:GetObject on arn:aws-cn:s3:::ikr-artifacts/ikr/* for one that exists; uploading it",
        "uploaded s3://ikr-artifacts/ikr/lambda-x.zip",
    ]


def test_a_refused_upload_names_s3_put_object_and_raises_no_traceback(bucket, tmp_path: Path) -> None:
    store, events = bucket
    events.register_first("before-send.s3.HeadObject", answer(404))
    events.register_first("before-send.s3.PutObject", answer(403, ACCESS_DENIED))
    artifact = tmp_path / "ikr-lambda.zip"
    artifact.write_bytes(b"zip")
    with pytest.raises(UploadRefused) as refused:
        upload(store, "ikr/lambda-x.zip", artifact, print)
    assert str(refused.value) == (
        f"cannot upload {artifact} to s3://ikr-artifacts/ikr/lambda-x.zip: AccessDenied: Access Denied. The "
        "deploying identity needs s3:PutObject on arn:aws:s3:::ikr-artifacts/ikr/* (and, so that unchanged "
        "files are not sent again, s3:GetObject there and s3:ListBucket on arn:aws:s3:::ikr-artifacts)"
    )


def test_an_object_there_already_is_not_sent_again(bucket, tmp_path: Path) -> None:
    store, events = bucket
    events.register_first("before-send.s3.HeadObject", answer(200, headers={"Content-Length": "3"}))
    out: list[str] = []
    upload(store, "ikr/lambda-x.zip", tmp_path / "never-read.zip", out.append)
    assert out == []
