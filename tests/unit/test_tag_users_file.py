"""`ikr tag-users FILE`: the file is checked as a whole (every problem, with its place, and nothing
applied when any is bad), then applied user by user."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from central.aws.iam import IamAccount
from central.domain.errors import UsageError
from central.tagging.tag_users import UserTags, apply, load, parse

SOURCE = "iam-user-tags.json"


def test_the_flat_shape_tags_users_of_the_callers_own_account():
    entries = parse(
        {
            "alice": {"IKR:EMAIL": "alice@example.com", "IKR:ROTATE_AFTER_DAYS": "30", "team": "payments"},
            "bob": {"ikr:email": "bob@example.com", "IKR:INSTRUCTION_0": "Update CI."},
        },
        SOURCE,
    )

    assert entries == [
        UserTags(
            account_id=None,
            user="alice",
            tags=(("IKR:EMAIL", "alice@example.com"), ("IKR:ROTATE_AFTER_DAYS", "30"), ("team", "payments")),
        ),
        UserTags(
            account_id=None, user="bob", tags=(("ikr:email", "bob@example.com"), ("IKR:INSTRUCTION_0", "Update CI."))
        ),
    ]


def test_the_grouped_shape_tags_users_per_account():
    entries = parse(
        {
            "111122223333": {"alice": {"IKR:EMAIL": "alice@example.com"}},
            "444455556666": {"alice": {"IKR:EMAIL": "alice2@example.com"}, "carl": {"IKR:DELETE_AFTER_DAYS": "7"}},
        },
        SOURCE,
    )

    assert [(entry.account_id, entry.user) for entry in entries] == [
        ("111122223333", "alice"),
        ("444455556666", "alice"),
        ("444455556666", "carl"),
    ]
    assert entries[1].tags == (("IKR:EMAIL", "alice2@example.com"),)


def test_every_problem_is_listed_with_its_place_and_nothing_is_returned():
    data = {
        "alice": {"IKR:EMAIL": "alice@example.com"},  # fine, but not returned either
        "bad user!": {"IKR:EMAIL": "x@example.com"},
        "bob": {"IKR:EMAIL": "not-an-address"},
        "carl": {"IKR:ROTATE_AFTER_DAYS": "ninety", "IKR:DELETE_AFTER_DAYS": "0"},
        "dora": {},
        "erin": {"IKR:EMAIL": 42},
        "fred": {"bad{key}": "v", "long": "x" * 257},
        "gina": {"IKR:EMAIL": "g@example.com", "ikr:email": "g2@example.com"},
        "hank": {"IKR:INSTRUCTION_first": "Do it"},
        "ivy": {f"tag{n}": "v" for n in range(51)},
    }

    with pytest.raises(UsageError) as raised:
        parse(data, SOURCE)

    message = str(raised.value)
    assert message.startswith("nothing was tagged; fix the file first:")
    expected = [
        f"{SOURCE}: user 'bad user!': not a valid IAM user name",
        f"{SOURCE}: user 'bob': IKR:EMAIL='not-an-address' is not one e-mail address",
        f"{SOURCE}: user 'carl': IKR:ROTATE_AFTER_DAYS='ninety' is not a positive whole number of days",
        f"{SOURCE}: user 'carl': IKR:DELETE_AFTER_DAYS='0' must be between 1 and",
        f"{SOURCE}: user 'dora': expected a non-empty object of tag keys to string values",
        f"{SOURCE}: user 'erin': tag IKR:EMAIL: value must be a string, got 42",
        f"{SOURCE}: user 'fred': tag key 'bad{{key}}' is not a valid IAM tag key",
        f"{SOURCE}: user 'fred': tag long: value has 257 characters; IAM allows 256",
        f"{SOURCE}: user 'gina': the same IKR: tag key is given twice in different cases",
        f"{SOURCE}: user 'hank': IKR:INSTRUCTION_FIRST is not IKR:INSTRUCTION_<number>",
        f"{SOURCE}: user 'ivy': 51 tags; IAM allows 50 per user",
    ]
    lines = message.splitlines()[1:]
    for problem in expected:
        assert any(line.strip().startswith(problem) for line in lines), problem
    assert len(lines) == len(expected)
    assert "alice" not in message


def test_a_problem_in_a_grouped_file_names_the_account():
    data = {
        "111122223333": {"alice": {"IKR:EMAIL": "alice@example.com"}},
        "444455556666": {"bob": {"IKR:ROTATE_AFTER_DAYS": "-3"}},
        "777788889999": ["not", "an", "object"],
    }

    with pytest.raises(UsageError) as raised:
        parse(data, SOURCE)

    message = str(raised.value)
    assert f"{SOURCE}: account 444455556666: user 'bob': IKR:ROTATE_AFTER_DAYS='-3'" in message
    assert f"{SOURCE}: account 777788889999: expected an object of users" in message
    assert "111122223333" not in message


def test_a_tag_value_iam_would_refuse_is_a_problem_in_the_file():
    data = {
        "alice": {"IKR:EMAIL": "alice@example.com"},
        "bob": {"IKR:EMAIL": "bob@example.com", "IKR:INSTRUCTION_0": "Update the CI secret, then restart!"},
    }

    with pytest.raises(UsageError, match=r"user 'bob'.*IKR:INSTRUCTION_0"):
        parse(data, SOURCE)


@pytest.mark.parametrize("data", [[], "alice", None], ids=["list", "string", "null"])
def test_a_file_that_is_not_an_object_of_users_is_refused(data):
    with pytest.raises(UsageError, match=f"{SOURCE}: expected a JSON object"):
        parse(data, SOURCE)


def test_load_reads_the_file_and_names_it_in_problems(tmp_path: Path):
    good = tmp_path / "tags.json"
    good.write_text(json.dumps({"alice": {"IKR:EMAIL": "alice@example.com"}}), encoding="utf-8")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"bob": {"IKR:EMAIL": "nope"}}), encoding="utf-8")

    assert [entry.user for entry in load(good)] == ["alice"]
    with pytest.raises(UsageError, match="no such file"):
        load(tmp_path / "missing.json")
    with pytest.raises(UsageError, match=f"{broken}: not valid JSON"):
        load(broken)
    with pytest.raises(UsageError, match=f"{bad}: user 'bob'"):
        load(bad)


class FakeIam:
    def __init__(self, refuse: frozenset[str] = frozenset()) -> None:
        self.tagged: list[tuple[str, list[dict[str, str]]]] = []
        self.refuse = refuse

    def tag_user(self, UserName: str, Tags: list[dict[str, str]]) -> dict[str, Any]:
        if UserName in self.refuse:
            raise ClientError({"Error": {"Code": "NoSuchEntity", "Message": f"user {UserName} not found"}}, "TagUser")
        self.tagged.append((UserName, Tags))
        return {}


ENTRIES = [
    UserTags(account_id=None, user="alice", tags=(("IKR:EMAIL", "alice@example.com"),)),
    UserTags(account_id="111122223333", user="bob", tags=(("IKR:EMAIL", "bob@example.com"), ("team", "x"))),
    UserTags(account_id="111122223333", user="carl", tags=(("IKR:DELETE_AFTER_DAYS", "3"),)),
]


def test_apply_tags_every_user_in_its_account():
    clients: dict[str | None, FakeIam] = {}
    printed: list[str] = []

    def iam_for(account_id):
        return IamAccount(clients.setdefault(account_id, FakeIam()), account_id or "self")

    failures = apply(ENTRIES, iam_for, dry_run=False, echo=printed.append)

    assert failures == 0
    assert clients[None].tagged == [("alice", [{"Key": "IKR:EMAIL", "Value": "alice@example.com"}])]
    assert clients["111122223333"].tagged == [
        ("bob", [{"Key": "IKR:EMAIL", "Value": "bob@example.com"}, {"Key": "team", "Value": "x"}]),
        ("carl", [{"Key": "IKR:DELETE_AFTER_DAYS", "Value": "3"}]),
    ]
    assert printed[0] == "tagged this account: alice: IKR:EMAIL=alice@example.com"
    assert printed[1] == "tagged 111122223333: bob: IKR:EMAIL=bob@example.com, team=x"


def test_apply_goes_on_after_one_failure_and_counts_it():
    iam = FakeIam(refuse=frozenset({"bob"}))
    printed: list[str] = []

    def iam_for(account_id: str | None) -> Any:
        return IamAccount(iam, account_id or "self")

    failures = apply(ENTRIES, iam_for, dry_run=False, echo=printed.append)

    assert failures == 1
    assert [user for user, _ in iam.tagged] == ["alice", "carl"]
    assert "FAILED 111122223333: bob: NoSuchEntity: user bob not found" in printed


def test_apply_dry_run_calls_no_iam_and_says_what_it_would_do():
    asked: list[str | None] = []
    printed: list[str] = []

    def iam_for(account_id):
        asked.append(account_id)
        raise AssertionError("a dry run must not reach IAM")

    failures = apply(ENTRIES, iam_for, dry_run=True, echo=printed.append)

    assert failures == 0
    assert asked == []
    assert printed == [
        "would tag this account: alice: IKR:EMAIL=alice@example.com",
        "would tag 111122223333: bob: IKR:EMAIL=bob@example.com, team=x",
        "would tag 111122223333: carl: IKR:DELETE_AFTER_DAYS=3",
    ]
