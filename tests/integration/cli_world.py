"""`ikr` run in process (`central.cli.main.main`) against moto in process: the environment of a small
Organization, an SMTP relay and the settings a test names; what the run printed and logged."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import timedelta

import boto3
import pytest

from central.aws.expiry_table import ExpiryTable
from central.cli.main import main
from tests.integration.conftest import TABLE
from tests.integration.fixtures_extra import LATER
from tests.support.world import AccountSpec, OrgSpec, UserSpec, World, build_world

ADMIN = "admin@example.com"
SPEC = OrgSpec(
    ous={"Work": {"IKR:ENABLED": "true", "IKR:ROTATE_AFTER_DAYS": "60"}},
    accounts=[
        AccountSpec(
            "prod",
            "Work",
            {},
            [
                UserSpec("alice", {"IKR:EMAIL": "alice@example.com"}),
                UserSpec("carol", {"IKR:EMAIL": "not-an-address"}),  # a failure: the run sends an admin notice
            ],
        )
    ],
)


@dataclass
class CliRun:
    code: int
    out: str
    err: str
    records: list[logging.LogRecord]

    def line_for(self, user: str) -> str:
        return next(line for line in self.out.splitlines() if f" {user} " in line or line.endswith(f" {user}"))

    def logged(self, message: str) -> list[logging.LogRecord]:
        return [record for record in self.records if record.getMessage() == message]

    def everything(self) -> str:
        """Every printed line and every log record with its fields."""
        logs = [
            f"{r.getMessage()} {json.dumps(r.__dict__, default=str)}" for r in self.records if r.name != "responses"
        ]
        return "\n".join([self.out, self.err, *logs])


def org(central: boto3.Session, monkeypatch: pytest.MonkeyPatch, smtp_port: int, spec: OrgSpec = SPEC) -> World:
    """The Organization, the expiry table, and the environment `ikr` reads (mail through the relay)."""
    world = build_world(central, spec)
    ExpiryTable(central.client("dynamodb"), TABLE).create()
    for name, value in {
        "MAIL_CLIENT": "smtp",
        "SMTP_SERVER": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "SMTP_PROTOCOL": "plain",
        "MAIL_FROM": "ikr@example.com",
        "ADMIN_EMAIL": ADMIN,
        "IAM_KEY_ROTATOR_TABLE": TABLE,
        "ENCRYPT_KEY_PAIR": "false",
        "IKR_ALLOW_CLOCK_OVERRIDE": "1",  # --now with moto in process (no AWS_ENDPOINT_URL)
        "IKR_AWS_MAX_ATTEMPTS": "2",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    return world


def ikr(
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    *args: str,
    days: int | None = 0,
    level: str = "DEBUG",
) -> CliRun:
    """`ikr --log-level <level> <args> --now LATER+days` (no --now for days=None), with everything
    it printed and logged."""
    caplog.clear()
    caplog.set_level(logging.DEBUG)
    capsys.readouterr()
    now = [] if days is None else ["--now", (LATER + timedelta(days=days)).isoformat()]
    code = main(["--log-level", level, *args, *now])
    captured = capsys.readouterr()
    return CliRun(code, captured.out, captured.err, list(caplog.records))


def keys(world: World, account: str, user: str) -> list[str]:
    metas = world.iam(account).list_access_keys(UserName=user)["AccessKeyMetadata"]
    return sorted(meta["AccessKeyId"] for meta in metas)
