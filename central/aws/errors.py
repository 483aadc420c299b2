"""AWS failures as ikr's own errors: the one place that reads botocore's exceptions.

Every adapter call goes through `aws_call(...)`, which turns a `ClientError` or a `BotoCoreError`
into an `AwsError` whose message names the operation and the resource (account, user, key, table),
and whose kind says what a caller may do next:

- `retryable`: the same call may succeed later (throttling, a 5xx, a lost connection). botocore
  has already retried these with its own back-off; a caller's choice is to give up this attempt and
  let a later delivery or run retry, never to loop.
- `uncertain`: the request may have been carried out although no answer came (a read time-out or a
  dropped connection after sending, a 5xx). For a call that creates or sends something, the thing
  may exist: treat it as done where that is the safe side.
- the subclasses name the answers callers decide on: not found, access denied, a failed condition,
  already exists, over a limit, invalid input.

Callers catch these and never look at an AWS error code; `code` is kept for logs and tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from botocore.parsers import ResponseParserError

from central.domain.errors import IkrError, aws_reason

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "SlowDown",
    }
)
SERVER_CODES = frozenset(
    {"RequestTimeout", "RequestTimeoutException", "ServiceUnavailable", "InternalError", "InternalFailure"}
)
NOT_FOUND_CODES = frozenset(
    {
        "NoSuchEntity",
        "ParameterNotFound",
        "ResourceNotFoundException",
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
        "NoSuchBucket",
        "NoSuchKey",
        "AccountNotFoundException",
        # Organizations: a child, OU or tagged node named in the request is not (any longer) in the tree.
        "ChildNotFoundException",
        "OrganizationalUnitNotFoundException",
        "TargetNotFoundException",
        "StackSetNotFoundException",
        "NotFound",  # S3 HeadObject: a HEAD answer has no body, so botocore names the status
        "404",
    }
)
ACCESS_DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "AuthFailure",
        "InvalidClientTokenId",
        "ExpiredToken",
        "ExpiredTokenException",
        "UnrecognizedClientException",
        "AWSOrganizationsNotInUseException",
        "MessageRejected",  # SES: the sender is not verified or the account is in the sandbox
        "KMSAccessDeniedException",  # a KMS key's policy refuses the caller (Secrets Manager, SSM, ...)
        "403",  # S3 HeadObject: a HEAD answer has no body, so botocore names the status
        "Forbidden",
        # Common to every AWS API (each API reference's CommonErrors): the caller may not, the
        # account has not opted in to the service or region, the request's signature is incomplete.
        "NotAuthorized",
        "OptInRequired",
        "IncompleteSignature",
        # EventBridge PutEvents, per entry: the bus's policy refuses this source or detail-type.
        "NotAuthorizedForSourceException",
        "NotAuthorizedForDetailTypeException",
    }
)
CONDITION_CODES = frozenset({"ConditionalCheckFailedException", "TransactionCanceledException"})
EXISTS_CODES = frozenset(
    {"EntityAlreadyExists", "ParameterAlreadyExists", "ResourceExistsException", "AlreadyExistsException"}
)
# CloudFormation's and DynamoDB's LimitExceededException is a quota (stacks, tables), not throttling.
LIMIT_CODES = frozenset(
    {
        "LimitExceeded",
        "LimitExceededException",
        "ParameterLimitExceeded",
        "ServiceQuotaExceededException",
        "ParameterMaxVersionLimitExceeded",  # SSM: 100 versions and the oldest carries a label
    }
)
INVALID_CODES = frozenset(
    {
        # Common: the request's date is over 15 minutes off AWS's clock; the host clock needs fixing.
        "RequestExpired",
        "ValidationError",
        "ValidationException",
        "InvalidParameterValue",
        "InvalidParameterException",
        "InvalidInput",
        "MalformedPolicyDocument",
        "InvalidRequestException",
        "InvalidKeyId",
        "UnsupportedParameterType",
        "HierarchyTypeMismatchException",
        # A KMS key in a state that refuses the request (disabled, pending deletion, gone), as Secrets
        # Manager and SSM pass it on: not a throttle, not fixed by a retry.
        "EncryptionFailure",
        "DecryptionFailure",
        "KMSDisabledException",
        "KMSInvalidStateException",
        "KMSNotFoundException",
        "MalformedDetail",  # EventBridge PutEvents, per entry: the detail is not a JSON object
    }
)


class AwsError(IkrError):
    """An AWS call failed. `operation` is "service:Operation"; `resource` names what it was about."""

    retryable: bool = False
    uncertain: bool = False

    def __init__(
        self,
        operation: str,
        resource: str,
        reason: str,
        *,
        code: str = "",
        retryable: bool | None = None,
        uncertain: bool | None = None,
    ) -> None:
        where = f" ({resource})" if resource else ""
        super().__init__(f"{operation}{where}: {reason}")
        self.operation = operation
        self.resource = resource
        self.reason = reason
        self.code = code
        if retryable is not None:
            self.retryable = retryable
        if uncertain is not None:
            self.uncertain = uncertain


class AwsNotFound(AwsError):
    """The thing asked about does not exist (a user, a parameter, a queue, a table)."""


class AwsAccessDenied(AwsError):
    """ikr's role may not do this, or its credentials were refused."""


class AwsConditionFailed(AwsError):
    """A conditional write found the item other than expected: someone else got there first."""


class AwsAlreadyExists(AwsError):
    """The thing to create exists already."""


class AwsLimitExceeded(AwsError):
    """A quota is full (a user's two access keys, SSM's parameter count): not throttling."""


class AwsInvalidRequest(AwsError):
    """AWS refused the request as malformed or not applicable to the resource's type."""


class AwsThrottled(AwsError):
    """AWS asked to slow down and botocore's retries ran out."""

    retryable = True


class AwsUnavailable(AwsError):
    """AWS answered with a server error, or could not be reached, or did not answer: the request may
    have been carried out."""

    retryable = True
    uncertain = True


_KINDS: tuple[tuple[frozenset[str], type[AwsError]], ...] = (
    (THROTTLING_CODES, AwsThrottled),
    (SERVER_CODES, AwsUnavailable),
    (NOT_FOUND_CODES, AwsNotFound),
    (ACCESS_DENIED_CODES, AwsAccessDenied),
    (CONDITION_CODES, AwsConditionFailed),
    (EXISTS_CODES, AwsAlreadyExists),
    (LIMIT_CODES, AwsLimitExceeded),
    (INVALID_CODES, AwsInvalidRequest),
)


def error_code(exc: BaseException) -> str:
    """AWS's error code of a `ClientError` ("" for anything else)."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def translate(exc: ClientError | BotoCoreError, operation: str, resource: str = "") -> AwsError:
    """The `AwsError` for a botocore failure of `operation` on `resource`."""
    reason = aws_reason(exc)
    if isinstance(exc, ClientError):
        code = error_code(exc)
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        for codes, kind in _KINDS:
            if code in codes:
                return kind(operation, resource, reason, code=code)
        if status >= 500:
            return AwsUnavailable(operation, resource, reason, code=code)
        return AwsError(operation, resource, reason, code=code)
    if isinstance(exc, ConnectTimeoutError | EndpointConnectionError):  # never connected: nothing was sent
        return AwsUnavailable(operation, resource, reason, code=type(exc).__name__, uncertain=False)
    if isinstance(exc, ReadTimeoutError | ConnectionClosedError):
        return AwsUnavailable(operation, resource, reason, code=type(exc).__name__)
    return AwsError(operation, resource, reason, code=type(exc).__name__, retryable=False)


@contextmanager
def aws_call(operation: str, resource: str = "") -> Iterator[None]:
    """Run AWS calls, turning botocore's failures into `AwsError`s that name `operation` and `resource`."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, operation, resource) from exc
    except ResponseParserError as exc:  # not a BotoCoreError: an answer not in AWS's format (an emulator's page)
        reason = "the endpoint's answer could not be read (not in AWS's format; an emulator without this call?)"
        raise AwsError(operation, resource, reason, code=type(exc).__name__) from exc


def reason_of(exc: IkrError) -> str:
    """What a row or log line about one account or user shows: for an `AwsError` AWS's own reason (the
    row names the account and user already), for any other ikr error its message."""
    return exc.reason if isinstance(exc, AwsError) else str(exc)
