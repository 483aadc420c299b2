"""Count the AWS calls of a steady-state run: one member account, 1,000 users, 100 managed, none due.

Run with `make bench`. Counts are exact (every botocore API call is recorded); the wall time is
printed for orientation only, on moto in process.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import boto3
from botocore.client import BaseClient
from moto import mock_aws

from central.clock import system_clock
from central.expiry_table import ExpiryTable
from central.mailers.base import Mail, Mailer
from central.run import run_rotation
from central.services import Services
from central.sessions import SessionBroker
from central.settings import Settings
from tests.support.world import AccountSpec, OrgSpec, UserSpec, build_world

USERS, MANAGED = 1_000, 100


class NullMailer(Mailer):
    name = "null"

    def send(self, mail: Mail) -> None:
        raise AssertionError("a steady-state run must not mail anyone")


@contextmanager
def counting() -> Iterator[Counter[str]]:
    calls: Counter[str] = Counter()
    original = BaseClient._make_api_call  # type: ignore[attr-defined]

    def record(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        calls[f"{self.meta.service_model.service_name}:{operation}"] += 1
        return original(self, operation, params)

    with mock.patch.object(BaseClient, "_make_api_call", record):
        yield calls


def in_process_emulator() -> None:
    """Fake credentials for moto in process; the run's log lines off, the figures on."""
    logging.getLogger("ikr").setLevel(logging.WARNING)
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCOUNT_ID_ENDPOINT_MODE="disabled",
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)


def bench_services(central: boto3.Session) -> Services:
    table = ExpiryTable(central.client("dynamodb"), "ikr-bench")
    table.create()
    return Services(
        settings=Settings.model_validate({"MAIL_FROM": "ikr@example.com", "IAM_KEY_ROTATOR_TABLE": "ikr-bench"}),
        central=central,
        broker=SessionBroker(central, "ikr-member"),
        table=table,
        mailer=NullMailer(),
        clock=system_clock,
    )


def main() -> None:
    in_process_emulator()
    with mock_aws():
        central = boto3.Session(region_name="us-east-1")
        users = [
            UserSpec(f"user{i:04d}", {"IKR:EMAIL": f"u{i}@example.com"} if i < MANAGED else {"team": "x"})
            for i in range(USERS)
        ]
        world = build_world(
            central,
            OrgSpec(
                ous={"Workloads": {"IKR:ENABLED": "true"}}, accounts=[AccountSpec("big", "Workloads", users=users)]
            ),
        )
        services = bench_services(central)
        started = time.perf_counter()
        with counting() as calls:
            result = run_rotation(services, only=[world.account_ids["big"]])
        elapsed = time.perf_counter() - started
    account = result.accounts[0]
    iam = sum(n for name, n in calls.items() if name.startswith("iam:"))
    print(
        f"steady-state scan: 1 account, {USERS} users, {MANAGED} managed, {account.count(account.users[0].outcome)}"
        f" {account.users[0].outcome.value}"
    )
    print(f"{'service:operation':<50} calls")
    for name, count in sorted(calls.items()):
        print(f"{name:<50} {count}")
    print(f"IAM calls in the member account: {iam} (the original tool's per-user pattern: {1 + USERS + MANAGED})")
    print(f"wall time on moto in process: {elapsed:.1f} s")


if __name__ == "__main__":
    main()
