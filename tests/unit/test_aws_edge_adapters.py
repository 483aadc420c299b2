"""The adapters behind notify, report, deploy and the CLI translate AWS's answers: each error code,
injected with botocore's Stubber into the very client the adapter uses, comes out as ikr's error of
the right kind and flags, with a message naming the resource; callers never see a ClientError."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError, NoCredentialsError
from botocore.stub import Stubber

from central.aws import clients as aws
from central.aws.cloudformation import CloudFormation
from central.aws.deploy_target import DeployTarget
from central.aws.entry_failures import NO_CREDENTIALS, untranslated_aws_failures
from central.aws.errors import (
    AwsAccessDenied,
    AwsError,
    AwsInvalidRequest,
    AwsNotFound,
    AwsThrottled,
    AwsUnavailable,
    aws_call,
)
from central.aws.iam_read import IamReader
from central.aws.lambda_account import LambdaAccount
from central.aws.parameters import CentralParameters
from central.aws.s3 import Bucket
from central.aws.ses import SesSender
from central.domain.errors import DeliveryError, DeliveryRefused, DeliveryUncertain, IkrError, SettingsError

ACCOUNT = "111122223333"


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch) -> boto3.Session:
    """Credentials that reach nothing: every answer below comes from a Stubber."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")


@pytest.fixture
def stubbed(session: boto3.Session) -> Iterator[Callable[[Any], Stubber]]:
    """Activate a Stubber on a client; all of them are checked and closed after the test."""
    stubbers: list[Stubber] = []

    def stub(client: Any) -> Stubber:
        stubber = Stubber(client)
        stubber.activate()
        stubbers.append(stubber)
        return stubber

    yield stub
    for stubber in stubbers:
        stubber.deactivate()


# (name, service, operation, the adapter's call, the words its message names)
Call = Callable[[boto3.Session, Any], Any]
CALLS: list[tuple[str, str, str, Call, str]] = [
    (
        "ssm-parameter",
        "ssm",
        "get_parameter",
        lambda s, _c: CentralParameters(s).secret("/ikr/smtp-password"),
        "parameter /ikr/smtp-password",
    ),
    (
        "s3-put",
        "s3",
        "put_object",
        lambda s, _c: Bucket(aws.s3(s), "reports").put("r/x.json", b"{}", "a/b"),
        "s3://reports/r/x.json",
    ),
    (
        "iam-users",
        "iam",
        "get_account_authorization_details",
        lambda s, _c: IamReader(s, ACCOUNT).users(),
        f"account {ACCOUNT}",
    ),
    (
        "iam-keys",
        "iam",
        "list_access_keys",
        lambda s, _c: IamReader(s, ACCOUNT).keys("alice"),
        f"user alice in account {ACCOUNT}",
    ),
    (
        "iam-credential-report",
        "iam",
        "generate_credential_report",
        lambda s, _c: IamReader(s, ACCOUNT).credential_report(0, lambda _: None),
        f"account {ACCOUNT}",
    ),
    (
        "cf-change-set",
        "cloudformation",
        "create_change_set",
        lambda _s, cf: CloudFormation(cf).create_change_set("ikr-central", "ikr-1", ChangeSetType="UPDATE"),
        "change set ikr-1 of stack ikr-central",
    ),
    (
        "cf-stackset-operation",
        "cloudformation",
        "describe_stack_set_operation",
        lambda _s, cf: CloudFormation(cf).stack_set_operation("ikr-member-role", "op-1", "SELF"),
        "StackSet ikr-member-role operation op-1",
    ),
    (
        "org-id",
        "organizations",
        "describe_organization",
        lambda s, _c: DeployTarget(s).organization_id(),
        "the caller's Organization",
    ),
    (
        "org-or-standalone",
        "organizations",
        "describe_organization",
        lambda s, _c: DeployTarget(s).organization,
        "the caller's Organization",
    ),
    (
        "cf-trusted-access",
        "cloudformation",
        "describe_organizations_access",
        lambda _s, cf: CloudFormation(cf).organizations_access("DELEGATED_ADMIN"),
        "StackSets' trusted access to the Organization (as DELEGATED_ADMIN)",
    ),
    (
        "cf-stackset-parameters",
        "cloudformation",
        "describe_stack_set",
        lambda _s, cf: CloudFormation(cf).stack_set_parameters("ikr-member-role", "SELF"),
        "StackSet ikr-member-role",
    ),
    (
        "lambda-quota",
        "lambda",
        "get_account_settings",
        lambda s, c: LambdaAccount(c, "eu-west-1").concurrency(),
        "the account's Lambda quota in eu-west-1",
    ),
]
ANSWERS = [
    ("AccessDenied", 403, AwsAccessDenied, False, False),
    ("ThrottlingException", 400, AwsThrottled, True, False),
    ("InternalFailure", 500, AwsUnavailable, True, True),
    ("ValidationError", 400, AwsInvalidRequest, False, False),
]


def _client(session: boto3.Session, service: str) -> Any:
    """The cached client the adapters use (CloudFormation's adapter is handed one)."""
    if service == "lambda":
        return aws.lambda_(session)
    return aws.cloudformation(session) if service == "cloudformation" else getattr(aws, service)(session)


@pytest.mark.parametrize(("code", "status", "kind", "retryable", "uncertain"), ANSWERS, ids=[a[0] for a in ANSWERS])
@pytest.mark.parametrize(("service", "operation", "call", "names"), [c[1:] for c in CALLS], ids=[c[0] for c in CALLS])
def test_each_adapter_translates_each_kind_of_answer_naming_the_resource(
    session, stubbed, service, operation, call, names, code, status, kind, retryable, uncertain
):
    client = _client(session, service)
    stubbed(client).add_client_error(operation, service_error_code=code, http_status_code=status)

    with pytest.raises(kind) as caught:
        call(session, client)

    assert (caught.value.retryable, caught.value.uncertain, caught.value.code) == (retryable, uncertain, code)
    assert names in str(caught.value)
    assert isinstance(caught.value.__cause__, ClientError)


def test_an_account_in_no_organization_is_standalone_not_an_error(session, stubbed):
    stubbed(aws.organizations(session)).add_client_error(
        "describe_organization", "AWSOrganizationsNotInUseException", "not a member", 400
    )
    assert DeployTarget(session).organization is None


def test_an_answer_not_in_aws_format_is_an_aws_error_naming_the_call(session):
    """An emulator without the operation (moto's HTML 500) raises botocore's ResponseParserError, which
    is no BotoCoreError: translated all the same."""
    cf = aws.cloudformation(session)

    def html_page(request: Any, **_: Any) -> Any:
        class Raw:
            def stream(self, **_: Any) -> Iterator[bytes]:
                yield b"<!doctype html><title>500 Internal Server Error</title>"

        return AWSResponse(request.url, 500, {}, Raw())

    cf.meta.events.register_first("before-send.cloudformation.DescribeOrganizationsAccess", html_page)
    with pytest.raises(AwsError) as caught:
        CloudFormation(cf).organizations_access("SELF")
    assert caught.value.code == "ResponseParserError"
    assert str(caught.value).startswith(
        "cloudformation:DescribeOrganizationsAccess (StackSets' trusted access to the Organization (as SELF)):"
    )


@pytest.mark.parametrize(
    ("code", "status", "kind", "words"),
    [
        ("MessageRejected", 400, DeliveryRefused, "SES refused the mail to alice@example.com: MessageRejected"),
        ("Throttling", 400, DeliveryError, "SES refused the mail to alice@example.com: Throttling"),
        ("AccessDenied", 403, DeliveryRefused, "SES refused the mail to alice@example.com"),
        ("InternalFailure", 500, DeliveryUncertain, "SES failed on the mail to alice@example.com after taking"),
        ("ServiceUnavailable", 503, DeliveryUncertain, "it may have been sent"),
    ],
)
def test_ses_refusals_are_delivery_errors_and_server_errors_uncertain(session, stubbed, code, status, kind, words):
    ses = aws.ses(session)
    stubbed(ses).add_client_error("send_email", service_error_code=code, http_status_code=status)

    with pytest.raises(DeliveryError) as caught:
        SesSender(ses).send("ikr@example.com", "alice@example.com", "subject", "text", "<p>html</p>")

    assert type(caught.value) is kind
    assert words in str(caught.value)


def test_s3_a_missing_object_is_no_object_and_a_refused_head_is_an_error(session, stubbed):
    s3 = aws.s3(session)
    stub = stubbed(s3)
    stub.add_client_error("head_object", service_error_code="404", http_status_code=404)
    stub.add_client_error("head_object", service_error_code="403", http_status_code=403)
    stub.add_response("head_object", {}, {"Bucket": "artifacts", "Key": "ikr/lambda.zip"})
    bucket = Bucket(s3, "artifacts")

    assert bucket.has("ikr/lambda.zip") is False
    with pytest.raises(AwsError, match=re.escape("s3:HeadObject (s3://artifacts/ikr/lambda.zip)")):
        bucket.has("ikr/lambda.zip")
    assert bucket.has("ikr/lambda.zip") is True


def test_s3_a_failed_upload_names_the_object(session, tmp_path: Path):
    # upload_file wraps AWS's answer in boto3's own S3UploadFailedError: still an AwsError naming the object
    s3 = aws.s3(session)
    with Stubber(s3) as stub:
        stub.add_client_error("put_object", service_error_code="NoSuchBucket", http_status_code=404)
        (tmp_path / "a.zip").write_bytes(b"zip")
        with pytest.raises(AwsError, match=re.escape("s3://gone/ikr/a.zip")):
            Bucket(s3, "gone").upload(tmp_path / "a.zip", "ikr/a.zip")


def test_cloudformation_the_is_it_there_answers_are_answers_not_errors(session, stubbed):
    client = aws.cloudformation(session)
    stub = stubbed(client)
    stub.add_client_error("describe_stacks", "ValidationError", "Stack with id ikr-central does not exist")
    stub.add_client_error("describe_stacks", "ValidationError", "1 validation error detected: StackName")
    stub.add_client_error("describe_stack_set", "StackSetNotFoundException", "StackSet ikr-member-role not found")
    cf = CloudFormation(client)

    assert cf.stack("ikr-central") is None
    with pytest.raises(AwsInvalidRequest, match="stack ikr-central"):
        cf.stack("ikr-central")
    assert cf.stack_set_exists("ikr-member-role", "SELF") is False


def test_iam_read_an_unreadable_credential_report_is_not_an_aws_error(session, stubbed):
    iam = aws.iam(session)
    stub = stubbed(iam)
    stub.add_response("generate_credential_report", {"State": "COMPLETE"})
    stub.add_client_error("get_credential_report", "ReportExpired", http_status_code=410)

    with pytest.raises(IkrError, match="credential report not readable: ReportExpired") as caught:
        IamReader(session, ACCOUNT).credential_report(0, lambda _: None)
    assert not isinstance(caught.value, AwsError)


def test_an_entry_point_sees_missing_credentials_as_settings_and_other_aws_failures_as_ikr_errors():
    no_credentials = re.escape(NO_CREDENTIALS)
    with pytest.raises(SettingsError, match=no_credentials), untranslated_aws_failures():
        raise NoCredentialsError
    with (
        pytest.raises(SettingsError, match=no_credentials),
        untranslated_aws_failures(),
        aws_call("sts:X", "me"),
    ):
        raise NoCredentialsError
    raw: Any = {"Error": {"Code": "AccessDenied", "Message": "no"}, "ResponseMetadata": {"HTTPStatusCode": 403}}
    with pytest.raises(IkrError) as caught, untranslated_aws_failures():
        raise ClientError(raw, "GetParameter")
    assert str(caught.value) == "AccessDenied: no"
    with pytest.raises(AwsNotFound), untranslated_aws_failures(), aws_call("iam:GetUser", "user bob"):
        raise ClientError({"Error": {"Code": "NoSuchEntity", "Message": "x"}}, "GetUser")
