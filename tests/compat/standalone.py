"""One standalone account (no Organization), as the original ran in: its users, the environment its
Terraform sets (mail through an SMTP sink), and `ikr` run in process against it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
import pytest

from central.aws.expiry_item import ExpiryItem
from central.aws.expiry_table import ExpiryTable
from central.cli.main import main

TABLE = "ikr-expiry"
ORIGINAL_TABLE = "iam-key-rotator"
SENDER = "IAM Key Rotator <ikr@example.com>"
ALIAS = "acme-prod"


@dataclass
class Run:
    code: int
    out: str
    err: str

    def line_for(self, user: str) -> str:
        return next(line for line in self.out.splitlines() if f" {user} " in f"{line} ")


def environment(monkeypatch: pytest.MonkeyPatch, smtp_port: int, **extra: str) -> dict[str, str]:
    """What the original's Terraform sets for its creator (the SMTP variant), pointed at ikr's table."""
    env = {
        "IAM_KEY_ROTATOR_TABLE": TABLE,
        "ROTATE_AFTER_DAYS": "85",
        "DELETE_AFTER_DAYS": "5",
        "ENCRYPT_KEY_PAIR": "true",
        "MAIL_CLIENT": "smtp",
        "MAIL_FROM": SENDER,
        "SMTP_PROTOCOL": "plain",  # the sink speaks no TLS; the original's ssl/tls are read as well
        "SMTP_PORT": str(smtp_port),
        "SMTP_SERVER": "127.0.0.1",
        "ACCOUNT_ID": "123456789012",
        "IKR_AWS_MAX_ATTEMPTS": "2",
        "POWERTOOLS_METRICS_DISABLED": "true",
        **extra,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def add_user(central: boto3.Session, name: str, tags: dict[str, str], keys: int = 1) -> list[str]:
    iam = central.client("iam")
    iam.create_user(UserName=name, Tags=[{"Key": key, "Value": value} for key, value in tags.items()])
    return [iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"] for _ in range(keys)]


def key_ids(central: boto3.Session, user: str) -> list[str]:
    metas = central.client("iam").list_access_keys(UserName=user)["AccessKeyMetadata"]
    return sorted(meta["AccessKeyId"] for meta in metas)


def created(central: boto3.Session, user: str) -> datetime:
    metas = central.client("iam").list_access_keys(UserName=user)["AccessKeyMetadata"]
    return max(meta["CreateDate"] for meta in metas)


def table(central: boto3.Session) -> ExpiryTable:
    return ExpiryTable(central.client("dynamodb"), TABLE)


def items(central: boto3.Session, user: str) -> list[ExpiryItem]:
    return table(central).for_user("123456789012", user)


def parameter_exists(central: boto3.Session, name: str) -> bool:
    found = central.client("ssm").get_parameters(Names=[name])["Parameters"]
    return bool(found)


def ikr(capsys: pytest.CaptureFixture[str], *args: str, now: datetime | None = None, stdin: Any = None) -> Run:
    capsys.readouterr()
    code = main([*args, *(["--now", now.isoformat()] if now is not None else [])])
    captured = capsys.readouterr()
    return Run(code, captured.out, captured.err)
