"""The adapters the use cases talk to translate AWS's answers into ikr's errors: the kind a caller
decides on, `retryable` / `uncertain`, and a message naming the account, user, key or table. Errors
are injected with botocore's Stubber (no AWS, no moto); transport failures with a raising client."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ConnectTimeoutError, NoCredentialsError, ReadTimeoutError
from botocore.stub import Stubber

from central.aws.errors import (
    AwsAccessDenied,
    AwsError,
    AwsLimitExceeded,
    AwsNotFound,
    AwsThrottled,
    AwsUnavailable,
)
from central.aws.expiry_item import ExpiryItem, State
from central.aws.expiry_table import ExpiryTable, LeaseConflict
from central.aws.iam import IamAccount
from central.aws.organizations import discover
from central.aws.sessions import SessionBroker
from central.aws.sqs_queue import SqsQueue
from central.aws.ssm_secrets import UserKeyStore
from central.domain.errors import AccountAccessError, SecretStoreError, SettingsError

ACCOUNT = "111122223333"
USER = "alice"
KEY = "AKIAOLD0000000000001"


def client(service: str) -> Any:
    session = boto3.Session(region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    return session.client(service)  # type: ignore[call-overload]


@contextmanager
def stubbed(service: str, operation: str, code: str, status: int) -> Iterator[Any]:
    aws = client(service)
    with Stubber(aws) as stub:
        stub.add_client_error(operation, service_error_code=code, service_message="injected", http_status_code=status)
        yield aws


class Raising:
    """A client whose every call raises `exc` (a transport failure the Stubber cannot make)."""

    def __init__(self, exc: Exception) -> None:
        self._exc = exc

    def __getattr__(self, _name: str) -> Callable[..., Any]:
        def call(*_args: Any, **_kwargs: Any) -> Any:
            raise self._exc

        return call


KINDS = [
    ("NoSuchEntity", 404, AwsNotFound, False),
    ("AccessDenied", 403, AwsAccessDenied, False),
    ("Throttling", 400, AwsThrottled, True),
    ("ServiceFailure", 500, AwsUnavailable, True),
]

IAM_CALLS: dict[str, tuple[str, Callable[[IamAccount], object], str]] = {
    # name: (botocore operation, the adapter call, what the message must name)
    "access_keys": ("list_access_keys", lambda iam: iam.access_keys(USER), f"account {ACCOUNT} user {USER}"),
    "delete": ("delete_access_key", lambda iam: iam.delete_access_key(USER, KEY), f"user {USER} key {KEY}"),
    "deactivate": ("update_access_key", lambda iam: iam.deactivate_access_key(USER, KEY), f"user {USER} key {KEY}"),
    "last_used": ("get_access_key_last_used", lambda iam: iam.last_used(KEY, USER), f"user {USER} key {KEY}"),
    "tag_user": ("tag_user", lambda iam: iam.tag_user(USER, [("IKR:EMAIL", "a@example.com")]), f"user {USER}"),
    "users": ("get_account_authorization_details", lambda iam: iam.listed_users(), f"account {ACCOUNT}"),
    "report": ("generate_credential_report", lambda iam: iam.start_credential_report(), f"account {ACCOUNT}"),
}


@pytest.mark.parametrize(("code", "status", "kind", "retryable"), KINDS)
@pytest.mark.parametrize("call", IAM_CALLS)
def test_iam_calls_raise_the_kind_naming_account_user_and_key(
    call: str, code: str, status: int, kind: type[AwsError], retryable: bool
):
    operation, act, named = IAM_CALLS[call]
    with stubbed("iam", operation, code, status) as aws, pytest.raises(kind) as caught:
        act(IamAccount(aws, ACCOUNT))
    assert caught.value.retryable is retryable
    assert caught.value.code == code
    assert named in str(caught.value)


@pytest.mark.parametrize(
    ("code", "status", "kind", "uncertain"),
    [
        ("LimitExceeded", 409, AwsLimitExceeded, False),  # a refusal: no key was made
        ("AccessDenied", 403, AwsAccessDenied, False),
        ("ServiceFailure", 500, AwsUnavailable, True),  # a 5xx: a key may exist
        ("Throttling", 503, AwsThrottled, True),  # a throttle answered as a 5xx proves no refusal either
    ],
)
def test_create_access_key_is_uncertain_unless_aws_refused(
    code: str, status: int, kind: type[AwsError], uncertain: bool
):
    with stubbed("iam", "create_access_key", code, status) as aws, pytest.raises(kind) as caught:
        IamAccount(aws, ACCOUNT).create_access_key(USER)
    assert caught.value.uncertain is uncertain
    assert f"account {ACCOUNT} user {USER}" in str(caught.value)


@pytest.mark.parametrize(
    "exc", [ReadTimeoutError(endpoint_url="https://iam"), ConnectTimeoutError(endpoint_url="https://iam")]
)
def test_create_access_key_without_an_answer_is_uncertain(exc: Exception):
    with pytest.raises(AwsUnavailable) as caught:
        IamAccount(Raising(exc), ACCOUNT).create_access_key(USER)
    assert (caught.value.retryable, caught.value.uncertain) == (True, True)


def test_last_used_reads_the_answer():
    aws = client("iam")
    used = datetime(2027, 3, 1, tzinfo=UTC)
    with Stubber(aws) as stub:
        stub.add_response(
            "get_access_key_last_used",
            {"UserName": USER, "AccessKeyLastUsed": {"LastUsedDate": used, "ServiceName": "s3", "Region": "eu-west-1"}},
        )
        stub.add_response(
            "get_access_key_last_used", {"UserName": USER, "AccessKeyLastUsed": {"ServiceName": "N/A", "Region": "N/A"}}
        )
        iam = IamAccount(aws, ACCOUNT)
        first, second = iam.last_used(KEY), iam.last_used(KEY)
    assert first is not None
    assert (first.at, first.service, first.region) == (used, "s3", "eu-west-1")
    assert second is None


# -- the expiry table ---------------------------------------------------------------------------------
ITEM = ExpiryItem(account_id=ACCOUNT, user_name=USER, old_key_id=KEY, state=State.STARTED, started_at=1, run_id="r.1")


@pytest.mark.parametrize(("code", "status", "kind", "retryable"), KINDS[1:])
def test_table_reads_and_writes_name_the_table_and_item(code: str, status: int, kind: type[AwsError], retryable: bool):
    with stubbed("dynamodb", "put_item", code, status) as db, pytest.raises(kind) as caught:
        ExpiryTable(db, "ikr-expiry").advance(ITEM, state=State.KEY_CREATED)
    assert caught.value.retryable is retryable
    assert f"table ikr-expiry account {ACCOUNT} user {USER} key {KEY}" in str(caught.value)
    with stubbed("dynamodb", "query", code, status) as db, pytest.raises(kind) as caught:
        ExpiryTable(db, "ikr-expiry").for_account(ACCOUNT)
    assert f"table ikr-expiry account {ACCOUNT}" in str(caught.value)


def test_a_lost_conditional_write_is_a_lease_conflict_or_false():
    db = client("dynamodb")
    table = ExpiryTable(db, "ikr-expiry")
    with Stubber(db) as stub:
        stub.add_client_error("put_item", "ConditionalCheckFailedException", http_status_code=400)
        stub.add_response("get_item", {})
        with pytest.raises(LeaseConflict) as caught:
            table.begin(ITEM)
        stub.add_client_error("put_item", "ConditionalCheckFailedException", http_status_code=400)
        settled = table.settle(ITEM)
    assert caught.value.found is None
    assert settled is False


def test_table_check_says_what_to_do():
    with stubbed("dynamodb", "describe_table", "ResourceNotFoundException", 400) as db, pytest.raises(SettingsError):
        ExpiryTable(db, "ikr-expiry").check()
    with pytest.raises(SettingsError, match="no AWS credentials"):
        ExpiryTable(Raising(NoCredentialsError()), "ikr-expiry").check()


# -- the SSM store, SQS, Organizations, STS -------------------------------------------------------------
def test_user_key_store_answers_and_refusals():
    with stubbed("ssm", "get_parameter", "ParameterNotFound", 400) as ssm:
        assert UserKeyStore(ssm, ACCOUNT).get(USER) is None
    with (
        stubbed("ssm", "get_parameter", "AccessDeniedException", 400) as ssm,
        pytest.raises(SecretStoreError) as refused,
    ):
        UserKeyStore(ssm, ACCOUNT).get_pending(USER)
    assert f"account {ACCOUNT} user {USER}" in str(refused.value)
    with pytest.raises(AwsUnavailable) as lost:
        UserKeyStore(Raising(ReadTimeoutError(endpoint_url="https://ssm")), ACCOUNT).delete_pending(USER)
    assert lost.value.uncertain
    assert f"account {ACCOUNT} user {USER} parameter /ikr/secret/iam/{USER}/pending" in str(lost.value)


def test_a_failed_sqs_batch_refuses_every_entry_for_good():
    with stubbed("sqs", "send_message_batch", "AWS.SimpleQueueService.NonExistentQueue", 400) as sqs:
        refused = SqsQueue(sqs, "https://sqs.us-east-1.amazonaws.com/1/q").send_batch({"0": "a", "1": "b"})
    assert set(refused) == {"0", "1"}
    assert all(
        why.final and why.reason.startswith("AWS.SimpleQueueService.NonExistentQueue") for why in refused.values()
    )


@pytest.mark.parametrize(("code", "status", "kind", "retryable"), KINDS[1:])
def test_discovery_names_the_node(code: str, status: int, kind: type[AwsError], retryable: bool):
    org = client("organizations")
    with Stubber(org) as stub:
        stub.add_response("list_roots", {"Roots": [{"Id": "r-ab12", "Name": "Root"}]})
        stub.add_client_error("list_tags_for_resource", code, http_status_code=status)
        with pytest.raises(kind) as caught:
            discover(org, ACCOUNT)
    assert caught.value.retryable is retryable
    assert "node r-ab12" in str(caught.value)


def test_outside_an_organization_the_caller_is_alone():
    with stubbed("organizations", "list_roots", "AWSOrganizationsNotInUseException", 400) as org:
        found = discover(org, ACCOUNT)
    assert found.standalone
    assert [account.id for account in found.accounts] == [ACCOUNT]


@pytest.mark.parametrize(("code", "retryable"), [("AccessDenied", False), ("Throttling", True)])
def test_a_refused_assume_role_says_whether_a_later_attempt_may_get_in(code: str, retryable: bool):
    sts = client("sts")
    with Stubber(sts) as stub:
        stub.add_response("get_caller_identity", {"Account": "123456789012"})
        stub.add_client_error("assume_role", code, http_status_code=403 if code == "AccessDenied" else 400)
        broker = SessionBroker(boto3.Session(region_name="us-east-1"), "ikr-member", sts=sts)
        with pytest.raises(AccountAccessError) as caught:
            broker.session_for(ACCOUNT)
    assert f"account {ACCOUNT}" in str(caught.value)
    cause = caught.value.__cause__
    assert isinstance(cause, AwsError)
    assert cause.retryable is retryable
