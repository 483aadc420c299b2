"""The benchmark cannot rot: its stand-in and both patterns on a tiny Organization, with exact counts
(no emulator, no latency, no timing)."""

from __future__ import annotations

from collections import Counter

import pytest

from central.aws import clients as aws
from central.domain.results import Outcome
from central.rotation.run import run_rotation
from tests.bench.common import bench_services, counting
from tests.bench.org_scale import TokenBucket, _cli, _rotator, _worker_tags
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


# -- `make bench-org` (tests/bench/org_scale.py): its measurements on a tiny Organization, in process ----
ORG_ACCOUNTS, OUS = 45, 3


def test_the_rotator_walks_per_page_and_ou_and_queues_every_account():
    got = _rotator({"accounts": ORG_ACCOUNTS, "ous": OUS, "rate": 1000.0, "burst": 1000, "latency": 0.0})

    assert got["calls"] == {
        "organizations:ListRoots": 1,
        "organizations:ListTagsForResource": OUS + 1,  # each OU and the root; no account's
        "organizations:ListOrganizationalUnitsForParent": OUS + 1,
        "organizations:ListAccountsForParent": 1 + OUS,  # the root's page, one page of 15 per OU
    }
    assert (got["throttled"], got["requests"]) == (0, sum(got["calls"].values()))
    assert got["sqs_calls"] == 1 + OUS * 2  # sent as each page arrives: the root's 1, then 10 + 5 per OU


def test_a_stingy_bucket_slows_the_walk_and_fails_nothing():
    got = _rotator({"accounts": ORG_ACCOUNTS, "ous": OUS, "rate": 20.0, "burst": 2, "latency": 0.0})

    assert got["throttled"] > 0
    assert got["requests"] == sum(got["calls"].values()) + got["throttled"]  # each refusal retried by botocore


def test_the_workers_read_every_accounts_tags_and_the_cli_run_holds_every_row():
    tags = _worker_tags(
        {"accounts": ORG_ACCOUNTS, "ous": OUS, "rate": 1000.0, "burst": 1000, "latency": 0.0, "workers": 4}
    )
    cli = _cli({"accounts": 6, "ous": 2, "users": 3, "held": False})

    assert (tags["reads"], tags["requests"], tags["failed"]) == (ORG_ACCOUNTS, ORG_ACCOUNTS, 0)
    assert (cli["worked"], cli["users"]) == (6, 18)


def test_the_bucket_refills_at_its_rate_up_to_its_burst():
    bucket = TokenBucket(rate=0.0, burst=2)
    assert [bucket.take() for _ in range(3)] == [True, True, False]
    assert bucket.refused == 1
