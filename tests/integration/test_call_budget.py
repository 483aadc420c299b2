"""Issue 15's call budget: a rotation in at most 9 AWS calls (met); a destruction in at most 4 per key
(not met: 7, see docs/ARCHITECTURE.md "The call budget" for what the rest guards).

Exact counts by service:Operation (moto in process; counts do not depend on timing), so they are
asserted. `-s` prints the table; `make bench-calls` prints the same figures.
"""

from __future__ import annotations

import re
from collections import Counter

import boto3

from tests.bench.call_budget import (
    DEACTIVATE_DAYS,
    Budget,
    destruction_budget,
    reminder_budget,
    report,
    rotation_budget,
    table,
)
from tests.integration.fixtures_extra import (
    shared_botocore_loader,  # noqa: F401 - autouse: shared service models (speed)
)


def _show(name: str, counts: Counter[str], unit: str) -> None:
    print()
    print(table({name: counts}, unit))


# Before issue 15's cuts: 12 (mail, encrypted), 9 (not encrypted), 11 (new secret); the destructor 9
# per deleted key, 6 + 9 when it deactivates first. docs/ARCHITECTURE.md says why each call went.
def test_a_mailed_encrypted_rotation_takes_9_calls(central: boto3.Session) -> None:
    counts, _, _ = rotation_budget(central, "mail, encrypted")
    _show("mail, encrypted", counts, "user")
    assert counts == {
        "iam:ListAccessKeys": 1,  # the report said due: decided again on live keys
        "iam:CreateAccessKey": 1,
        "dynamodb:PutItem": 3,  # journal: started, key-created, then delivered and scheduled in one write
        "ssm:PutParameter": 3,  # pending pair; Fernet key (written first: no read); the pair's delivery mark
        "ses:SendEmail": 1,
    }  # + one iam:ListAccountAliases per account and run (the mail's `Account: <id> (<alias>)`)
    assert sum(counts.values()) <= 9


def test_a_mailed_rotation_without_encryption_takes_8_calls(central: boto3.Session) -> None:
    counts, _, _ = rotation_budget(central, "mail, not encrypted")
    _show("mail, not encrypted", counts, "user")
    assert counts == {
        "iam:ListAccessKeys": 1,
        "iam:CreateAccessKey": 1,
        "dynamodb:PutItem": 3,
        "ssm:PutParameter": 2,  # pending pair, then its delivery mark
        "ses:SendEmail": 1,
    }


def test_a_machine_user_into_a_new_secret_takes_10_calls(central: boto3.Session) -> None:
    counts, _, _ = rotation_budget(central, "Secrets Manager (new secret)")
    _show("Secrets Manager (new secret)", counts, "user")
    assert counts == {
        "iam:ListAccessKeys": 1,
        "iam:CreateAccessKey": 1,
        "dynamodb:PutItem": 3,
        "ssm:PutParameter": 2,
        "secretsmanager:PutSecretValue": 1,  # not there yet: ResourceNotFound (9 once the secret exists)
        "secretsmanager:CreateSecret": 1,
        "ses:SendEmail": 1,  # the owner is told where the key is
    }


def test_the_destructor_deleting_one_old_key_takes_8_calls(central: boto3.Session) -> None:
    steps, assumed = destruction_budget(central)
    _show("delete", steps["delete"], "key")
    assert steps["delete"] == {
        "iam:ListAccessKeys": 1,  # decides, and (fresh) guards the deletion
        "iam:GetAccessKeyLastUsed": 1,  # the reminder: was the old key used after the mail?
        "dynamodb:PutItem": 1,  # the answer to the record (conditional: the first answer wins)
        "iam:DeleteAccessKey": 1,
        "dynamodb:Query": 1,  # the user's last item? then the Fernet key goes
        "ssm:DeleteParameters": 1,  # the Fernet key and the delivery mark, at once
        "dynamodb:UpdateItem": 1,  # the claim of the notices (at most once)
        "ses:SendEmail": 1,  # the user's `Old Access Key Pair Deleted` mail, as the original sent it
    }  # + one iam:ListAccountAliases per account and batch
    assert assumed == 1  # two keys of one account, one session: not per key


def test_the_destructor_deactivating_then_deleting_takes_5_then_7_calls(central: boto3.Session) -> None:
    steps, assumed = destruction_budget(central, DEACTIVATE_DAYS)
    _show("deactivate", steps["deactivate"], "key")
    _show("delete after deactivate", steps["delete"], "key")
    assert steps["deactivate"] == {
        "iam:ListAccessKeys": 1,
        "iam:GetAccessKeyLastUsed": 1,
        "dynamodb:PutItem": 1,
        "iam:UpdateAccessKey": 1,
        "dynamodb:UpdateItem": 1,
    }
    assert steps["delete"] == {  # the key is still Inactive: its last use was looked at when deactivated
        "iam:ListAccessKeys": 1,
        "dynamodb:PutItem": 1,
        "iam:DeleteAccessKey": 1,
        "dynamodb:Query": 1,
        "ssm:DeleteParameters": 1,
        "dynamodb:UpdateItem": 1,
        "ses:SendEmail": 1,
    }
    assert assumed == 1


def test_a_reminder_takes_4_calls_once(central: boto3.Session) -> None:
    counts = reminder_budget(central)
    _show("reminder", counts, "user")
    assert counts == {
        "iam:ListAccessKeys": 1,  # the credential report names no key id: the reminder names the key
        "dynamodb:PutItem": 1,  # the claim (conditional: one run of any number at once)
        "ses:SendEmail": 1,
        "dynamodb:UpdateItem": 1,  # marked sent
    }  # a user not near due, and a reminded one on every later run: none (tests/integration/test_reminders.py)


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
