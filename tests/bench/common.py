"""What both benchmark back ends share: call counting, a mailer that must not be used, the services."""

from __future__ import annotations

import logging
import os
import resource
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import boto3
from botocore.client import BaseClient

from central.aws.expiry_table import ExpiryTable
from central.aws.sessions import SessionBroker
from central.clock import system_clock
from central.collaborators import Services
from central.notify.mailers.base import Mail, Mailer
from central.settings import Settings

TABLE = "ikr-bench"


class NullMailer(Mailer):
    name = "null"

    def send(self, mail: Mail) -> None:
        raise AssertionError("a steady-state run must not mail anyone")


@contextmanager
def counting() -> Iterator[Counter[str]]:
    """Every API call of every client ("service:Operation"), as the code under test makes it (a
    retry inside botocore is not a new call)."""
    calls: Counter[str] = Counter()
    original = BaseClient._make_api_call  # type: ignore[attr-defined]

    def record(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        calls[f"{self.meta.service_model.service_name}:{operation}"] += 1
        return original(self, operation, params)

    with mock.patch.object(BaseClient, "_make_api_call", record):
        yield calls


def quiet() -> None:
    """The run's log lines off: the figures are the output."""
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
    logging.getLogger("ikr").setLevel(logging.WARNING)


def fake_credentials() -> None:
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("AWS_SESSION_TOKEN", None)


def bench_services(central: boto3.Session, create_table: bool = False) -> Services:
    table = ExpiryTable(central.client("dynamodb"), TABLE)
    if create_table:
        table.create()
    return Services(
        settings=Settings.model_validate({"MAIL_FROM": "ikr@example.com", "IAM_KEY_ROTATOR_TABLE": TABLE}),
        central=central,
        broker=SessionBroker(central, "ikr-member"),
        table=table,
        mailer=NullMailer(),
        clock=system_clock,
    )


def peak_rss_mb() -> float:
    """This process's peak resident memory (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
