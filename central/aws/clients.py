"""Every AWS client is built here, from a session, with one botocore Config; the central account's
session too (on the process's one botocore loader, `central.aws.session_factory`).

boto3 itself honours AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_<SERVICE>), which is how the whole
system runs against a local emulator without code changes. Retries are botocore's own: standard
mode backs off on throttling and transient errors, so no call site loops by hand.
"""

from __future__ import annotations

import logging
import threading
import weakref
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.configprovider import ConfiguredEndpointProvider
from botocore.handlers import json_decode_policies

from central.aws.session_factory import new_session, shared_loader

if TYPE_CHECKING:
    from collections.abc import Iterable

    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodbstreams import DynamoDBStreamsClient
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_organizations import OrganizationsClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_ses import SESClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient
    from mypy_boto3_sts import STSClient

    from central.settings import AccessSettings

DEFAULT_REGION = "us-east-1"


def make_config(max_attempts: int = 8, mode: str = "standard") -> Config:
    # Standard mode retries throttling and transient errors with jittered back-off; 8 attempts ride
    # out a burst of throttling without hiding a hard failure for long. Adaptive adds a client-side
    # rate limiter for accounts whose own workloads already use most of the API rate.
    return Config(
        retries={"mode": mode, "total_max_attempts": max_attempts},  # type: ignore[arg-type]
        connect_timeout=10,
        read_timeout=30,
        max_pool_connections=32,
        user_agent_extra="ikr",
    )


# The one Config every client is built with; `configure` replaces it from the settings at start-up.
BOTO_CONFIG = make_config()


# The SDK's DEBUG records carry request and response bodies: SSM PutParameter values (encryption
# keys, pending key pairs) and CreateAccessKey secrets. They stay off whatever the root level is.
_SDK_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer")


def configure(settings: AccessSettings) -> None:
    """Apply the retry settings to every client built from now on (clients are cached per session)."""
    global BOTO_CONFIG  # noqa: PLW0603 - one process-wide Config is the point
    BOTO_CONFIG = make_config(settings.IKR_AWS_MAX_ATTEMPTS, settings.IKR_AWS_RETRY_MODE.value)
    for name in _SDK_LOGGERS:
        sdk_logger = logging.getLogger(name)
        if sdk_logger.getEffectiveLevel() < logging.INFO:
            sdk_logger.setLevel(logging.INFO)


def default_session() -> boto3.Session:
    """The central account's own session, from the usual credential chain, on the process's one
    botocore loader (`central.aws.session_factory`)."""
    session = new_session()
    if session.region_name is None:
        session._session.set_config_variable("region", DEFAULT_REGION)
    return session


def region_session(region: str | None) -> boto3.Session:
    """A session of the usual credential chain in `region`; without one, `default_session()`."""
    return new_session(region) if region else default_session()


# Clients are thread-safe and cost tens of milliseconds to build: one per session and service.
_clients: weakref.WeakKeyDictionary[boto3.Session, dict[str, Any]] = weakref.WeakKeyDictionary()
_clients_lock = threading.Lock()


def _client(session: boto3.Session, service: str) -> Any:
    with _clients_lock:
        per_session = _clients.setdefault(session, {})
        client = per_session.get(service)
        if client is None:
            client = per_session[service] = session.client(service, config=BOTO_CONFIG)  # type: ignore[call-overload]
    return client


def iam(session: boto3.Session) -> IAMClient:
    client: IAMClient = _client(session, "iam")
    # ikr never reads a policy document, and botocore's decoder walks every IAM answer looking for
    # them: a GetAccountAuthorizationDetails page of 1,000 users is ~13,000 calls (~20 ms) for nothing.
    # (Unregistering a handler that is gone is a no-op, so doing it again on a cached client is safe.)
    client.meta.events.unregister("after-call.iam", json_decode_policies)
    return client


def sts(session: boto3.Session) -> STSClient:
    client: STSClient = _client(session, "sts")
    return client


def organizations(session: boto3.Session) -> OrganizationsClient:
    client: OrganizationsClient = _client(session, "organizations")
    return client


def ssm(session: boto3.Session) -> SSMClient:
    client: SSMClient = _client(session, "ssm")
    return client


def dynamodb(session: boto3.Session) -> DynamoDBClient:
    client: DynamoDBClient = _client(session, "dynamodb")
    return client


def dynamodbstreams(session: boto3.Session) -> DynamoDBStreamsClient:
    client: DynamoDBStreamsClient = _client(session, "dynamodbstreams")
    return client


def ses(session: boto3.Session) -> SESClient:
    client: SESClient = _client(session, "ses")
    return client


def s3(session: boto3.Session) -> S3Client:
    client: S3Client = _client(session, "s3")
    return client


def sqs(session: boto3.Session) -> SQSClient:
    client: SQSClient = _client(session, "sqs")
    return client


def secretsmanager(session: boto3.Session) -> SecretsManagerClient:
    client: SecretsManagerClient = _client(session, "secretsmanager")
    return client


def events(session: boto3.Session) -> Any:
    """No type stubs for EventBridge here: only `central.aws.events` calls it (PutEvents)."""
    return _client(session, "events")


def lambda_(session: boto3.Session) -> Any:
    """No type stubs for Lambda here: `central.aws.relaunch` calls it (the rotator invoking itself, so
    Lambda's model is in the artifact), and `ikr deploy` reads the account's concurrency quota
    through `central.aws.lambda_account`."""
    return _client(session, "lambda")


# Clients for commands an operator runs (`ikr deploy`), never a Lambda function: the same cache under
# a name of its own, which the artifact's trim (central/deploy/trim.py) does not count, so their
# service models stay out of the Lambda zip.
_operator_client = _client


def cloudformation(session: boto3.Session) -> Any:
    """No type stubs for CloudFormation here: only `central.aws.cloudformation` calls it."""
    return _operator_client(session, "cloudformation")


@cache
def _aws_domains() -> tuple[str, ...]:
    """The DNS suffixes of every AWS partition, from botocore's own partition data."""
    data = shared_loader().load_data("partitions")
    suffixes: set[str] = set()
    for partition in data["partitions"]:
        outputs = partition["outputs"]
        suffixes.update(outputs[key] for key in ("dnsSuffix", "dualStackDnsSuffix") if outputs.get(key))
    return tuple(sorted(suffixes))


def configured_endpoint(session: boto3.Session, service: str) -> str | None:
    """The endpoint URL this session's clients of `service` are configured with, as botocore resolves it
    (AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL, then the config file; none when
    AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is on), or None for AWS's own endpoint."""
    core = session._session
    if core.get_config_variable("ignore_configured_endpoint_urls"):
        return None
    provider = ConfiguredEndpointProvider(
        full_config=core.full_config, scoped_config=core.get_scoped_config(), client_name=service
    )
    url = provider.provide()
    return str(url) if url else None


def is_aws_endpoint(url: str | None) -> bool:
    """True for AWS's own endpoints (none configured, or a host in an AWS domain such as a FIPS or VPC
    endpoint); anything else (localhost, a LocalStack or moto host) is taken for an emulator."""
    if not url:
        return True
    host = (urlsplit(url if "://" in url else f"//{url}").hostname or "").rstrip(".").lower()
    return not host or any(host == domain or host.endswith(f".{domain}") for domain in _aws_domains())


def real_aws_services(session: boto3.Session, services: Iterable[str]) -> list[str]:
    """Those of `services` whose calls from this session would reach AWS itself, not an emulator."""
    return [service for service in services if is_aws_endpoint(configured_endpoint(session, service))]
