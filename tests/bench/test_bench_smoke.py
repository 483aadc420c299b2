"""The benchmark cannot rot: its stand-in and both patterns on a tiny Organization, with exact counts
(no emulator, no latency, no timing)."""

from __future__ import annotations

from collections import Counter

import pytest

from central.aws import clients as aws
from central.domain.results import Outcome
from central.rotation.run import run_rotation
from tests.bench.common import bench_services, counting
from tests.bench.per_user import per_user_inventory
from tests.bench.scale import Figures, table
from tests.bench.standin import StandIn
from tests.support.world import session_in

ACCOUNTS, USERS, MANAGED = 3, 30, 5


@pytest.fixture(autouse=True)
def fake_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "IKR_NOW"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


def test_ikr_on_the_stand_in_makes_3_iam_calls_per_account_and_nobody_is_due():
    stand_in = StandIn(ACCOUNTS, USERS, MANAGED, latency=0)
    with stand_in.installed():
        services = bench_services(aws.default_session())
        with counting() as calls:
            result = run_rotation(services, concurrency=2)

    assert result.exit_code == 0
    assert result.total(Outcome.NOT_DUE) == ACCOUNTS * MANAGED
    assert calls == Counter(
        {
            "iam:GenerateCredentialReport": ACCOUNTS,
            "iam:GetAccountAuthorizationDetails": ACCOUNTS,
            "iam:GetCredentialReport": ACCOUNTS,
            "sts:GetCallerIdentity": 1,
            "sts:AssumeRole": ACCOUNTS,
            "dynamodb:DescribeTable": 1,
            "dynamodb:Scan": 1,
            "dynamodb:Query": ACCOUNTS,
            "organizations:ListRoots": 1,
            "organizations:ListTagsForResource": 3 + ACCOUNTS,  # root, OU, management account, members
            "organizations:ListAccountsForParent": 2,
            "organizations:ListOrganizationalUnitsForParent": 2,
        }
    )
    assert stand_in.requests == calls  # no retries: the stand-in never throttles


def test_the_per_user_pattern_on_the_stand_in_costs_a_call_per_user_and_per_tagged_user():
    stand_in = StandIn(ACCOUNTS, 250, MANAGED, latency=0)
    with stand_in.installed():
        iam = session_in(aws.default_session(), stand_in.members[0]).client("iam")
        with counting() as calls:
            assert per_user_inventory(iam) == (250, MANAGED)

    assert calls == {"iam:ListUsers": 3, "iam:ListUserTags": 250, "iam:ListAccessKeys": MANAGED}


def test_the_table_gives_calls_per_account_and_says_what_is_estimated():
    ikr = Figures("ikr", 1000, {"iam:GetCredentialReport": 1000, "organizations:ListRoots": 1}, 60.0, 300.0, "x")
    per_user = Figures("per-user", 1, {"iam:ListUserTags": 1000}, 50.0, 90.0, "x", scale=1000)

    lines = table([("1,000 accounts", ikr), ("1,000 accounts", per_user)])

    assert lines[2] == "| 1,000 accounts | x | ikr | 1 | 0 | 0.00 | 0 | 60.0 s | 300 MB |"
    assert lines[3] == (
        "| 1,000 accounts | x | per-user (measured on 1 account(s), time x1,000) | 1,000 | 0 | 0 | 0 "
        "| 13.9 h (est.) | 90 MB |"
    )
