"""What both benchmark back ends share: call counting, a mailer that must not be used, the services."""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
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


def measure_in_child(module: str, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """Run `python -m module --child kind --params JSON` in a fresh interpreter (no caches warmed by
    another measurement) and return the JSON its last line of output holds."""
    done = subprocess.run(
        [sys.executable, "-m", module, "--child", kind, "--params", json.dumps(params)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{kind} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def bench_parser(
    doc: str | None, accounts: int, users: int, managed: int, children: Sequence[str]
) -> argparse.ArgumentParser:
    """A stand-in benchmark's arguments: its sizes, and the hidden ones of its child processes."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=accounts)
    parser.add_argument("--users", type=int, default=users)
    parser.add_argument("--managed", type=int, default=managed)
    parser.add_argument("--child", choices=sorted(children), help=argparse.SUPPRESS)
    parser.add_argument("--params", help=argparse.SUPPRESS)
    return parser


def serve_child(measure: Callable[[dict[str, Any]], dict[str, Any]], params: str) -> None:
    """A child process's side of `measure_in_child`: quiet, fake credentials, no emulator, the JSON."""
    quiet()
    fake_credentials()
    os.environ.pop("AWS_ENDPOINT_URL", None)
    print(json.dumps(measure(json.loads(params))))
