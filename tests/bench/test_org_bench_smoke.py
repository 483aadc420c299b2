"""`make bench-org` cannot rot: its measurements on a tiny Organization, in process, with exact counts
(the token bucket generous enough never to refuse, or stingy enough to refuse, as each test says)."""

from __future__ import annotations

import pytest

from tests.bench.org_scale import TokenBucket, _cli, _rotator, _worker_tags

ACCOUNTS, OUS = 45, 3


@pytest.fixture(autouse=True)
def fake_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "IKR_NOW"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


def test_the_rotator_walks_per_page_and_ou_and_queues_every_account():
    got = _rotator({"accounts": ACCOUNTS, "ous": OUS, "rate": 1000.0, "burst": 1000, "latency": 0.0})

    assert got["calls"] == {
        "organizations:ListRoots": 1,
        "organizations:ListTagsForResource": OUS + 1,  # each OU and the root; no account's
        "organizations:ListOrganizationalUnitsForParent": OUS + 1,
        "organizations:ListAccountsForParent": 1 + OUS,  # the root's page, one page of 15 per OU
    }
    assert (got["throttled"], got["requests"]) == (0, sum(got["calls"].values()))
    assert got["sqs_calls"] == 1 + OUS * 2  # sent as each page arrives: the root's 1, then 10 + 5 per OU


def test_a_stingy_bucket_slows_the_walk_and_fails_nothing():
    got = _rotator({"accounts": ACCOUNTS, "ous": OUS, "rate": 20.0, "burst": 2, "latency": 0.0})

    assert got["throttled"] > 0
    assert got["requests"] == sum(got["calls"].values()) + got["throttled"]  # each refusal retried by botocore


def test_the_workers_read_every_accounts_tags_and_the_cli_run_holds_every_row():
    tags = _worker_tags({"accounts": ACCOUNTS, "ous": OUS, "rate": 1000.0, "burst": 1000, "latency": 0.0, "workers": 4})
    cli = _cli({"accounts": 6, "ous": 2, "users": 3, "held": False})

    assert (tags["reads"], tags["requests"], tags["failed"]) == (ACCOUNTS, ACCOUNTS, 0)
    assert (cli["worked"], cli["users"]) == (6, 18)


def test_the_bucket_refills_at_its_rate_up_to_its_burst():
    bucket = TokenBucket(rate=0.0, burst=2)
    assert [bucket.take() for _ in range(3)] == [True, True, False]
    assert bucket.refused == 1
