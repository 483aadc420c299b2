"""Issue 15's call budget: a rotation in at most 9 AWS calls, a destruction in at most 4 per key.

Exact counts by service:Operation (moto in process; counts do not depend on timing), so they are
asserted. `-s` prints the table; `make bench-calls` prints the same figures.
"""

from __future__ import annotations

import re
from collections import Counter

import boto3

from tests.bench.call_budget import DEACTIVATE_DAYS, Budget, destruction_budget, report, rotation_budget, table
from tests.integration.fixtures_extra import (
    shared_botocore_loader,  # noqa: F401 - autouse: shared service models (speed)
)


def _show(name: str, counts: Counter[str], unit: str) -> None:
    print()
    print(table({name: counts}, unit))


def test_a_mailed_encrypted_rotation(central: boto3.Session) -> None:
    counts, _, _ = rotation_budget(central, "mail, encrypted")
    _show("mail, encrypted", counts, "user")
    assert counts == {
        "iam:ListAccessKeys": 1,  # the report said due: decided again on live keys
        "iam:CreateAccessKey": 1,
        "dynamodb:PutItem": 4,  # journal: started, key-created, delivered, scheduled
        "ssm:PutParameter": 2,  # pending pair, Fernet key
        "ssm:GetParameter": 2,  # Fernet key: not there, then read back
        "ssm:DeleteParameter": 1,  # pending pair
        "ses:SendEmail": 1,
    }


def test_a_mailed_rotation_without_encryption(central: boto3.Session) -> None:
    counts, _, _ = rotation_budget(central, "mail, not encrypted")
    _show("mail, not encrypted", counts, "user")
    assert counts == {
        "iam:ListAccessKeys": 1,
        "iam:CreateAccessKey": 1,
        "dynamodb:PutItem": 4,
        "ssm:PutParameter": 1,
        "ssm:DeleteParameter": 1,
        "ses:SendEmail": 1,
    }


def test_a_machine_user_into_a_new_secret(central: boto3.Session) -> None:
    counts, _, _ = rotation_budget(central, "Secrets Manager (new secret)")
    _show("Secrets Manager (new secret)", counts, "user")
    assert counts == {
        "iam:ListAccessKeys": 1,
        "iam:CreateAccessKey": 1,
        "dynamodb:PutItem": 4,
        "ssm:PutParameter": 1,
        "ssm:DeleteParameter": 1,
        "secretsmanager:PutSecretValue": 1,  # not there yet: ResourceNotFound
        "secretsmanager:CreateSecret": 1,
        "ses:SendEmail": 1,  # the owner is told where the key is
    }


def test_the_destructor_deleting_one_old_key(central: boto3.Session) -> None:
    steps, assumed = destruction_budget(central)
    _show("delete", steps["delete"], "key")
    assert steps["delete"] == {
        "dynamodb:GetItem": 1,
        "iam:ListAccessKeys": 2,
        "iam:GetAccessKeyLastUsed": 1,
        "dynamodb:PutItem": 1,
        "iam:DeleteAccessKey": 1,
        "dynamodb:Query": 1,
        "ssm:DeleteParameter": 1,
        "dynamodb:UpdateItem": 1,
    }
    assert assumed == 1  # two keys of one account, one session: not per key


def test_the_destructor_deactivating_then_deleting(central: boto3.Session) -> None:
    steps, assumed = destruction_budget(central, DEACTIVATE_DAYS)
    _show("deactivate", steps["deactivate"], "key")
    _show("delete after deactivate", steps["delete"], "key")
    assert steps["deactivate"] == {
        "dynamodb:GetItem": 1,
        "iam:ListAccessKeys": 1,
        "iam:GetAccessKeyLastUsed": 1,
        "dynamodb:PutItem": 1,
        "iam:UpdateAccessKey": 1,
        "dynamodb:UpdateItem": 1,
    }
    assert steps["delete"] == {
        "dynamodb:GetItem": 1,
        "iam:ListAccessKeys": 2,
        "iam:GetAccessKeyLastUsed": 1,
        "dynamodb:PutItem": 1,
        "iam:DeleteAccessKey": 1,
        "dynamodb:Query": 1,
        "ssm:DeleteParameter": 1,
        "dynamodb:UpdateItem": 1,
    }
    assert assumed == 1


def test_the_report_names_every_scenario() -> None:
    budget = Budget(
        rotation={"mail, encrypted": Counter({"iam:CreateAccessKey": 1})},
        destruction={"delete": Counter({"iam:DeleteAccessKey": 1})},
        assume_roles={"delete": 1},
    )
    text = report(budget)
    assert re.search(r"^mail, encrypted +1 per user  \(iam 1\)$", text, re.MULTILINE)
    assert re.search(r"^delete +1 per key  \(iam 1\)$", text, re.MULTILINE)
    assert "delete: 1" in text
