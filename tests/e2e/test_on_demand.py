"""`ikr rotate --now-due`: a rotation asked for now, regardless of age, through the real CLI."""

from __future__ import annotations

import pytest

from central.aws.expiry_item import ExpiryItem, State
from central.aws.expiry_table import ExpiryTable
from tests.e2e.conftest import E2E
from tests.support.servers import TABLE

pytestmark = pytest.mark.e2e


def test_one_user_is_rotated_now_with_its_reason_recorded(e2e: E2E) -> None:
    e2e.create_table()
    prod = e2e.account("prod")
    (old,) = e2e.keys("prod", "alice")  # made today: not due for 60 days

    run = e2e.ikr("rotate", "--account", prod, "--user", "alice", "--now-due", "--reason", "left the team")

    assert run.code == 0, run.stdout + run.stderr
    row = run.line_for("alice")
    assert "rotated" in row
    assert "on demand (left the team): new key " in row
    keys = e2e.keys("prod", "alice")
    assert len(keys) == 2
    assert keys[0] == old
    (item,) = e2e.items()
    assert (item["user_name"], item["old_key_id"], item["state"]) == ("alice", old, "scheduled")
    assert item["reason"] == "left the team"
    assert [mail.to for mail in e2e.sink.messages] == ["alice@example.com"]
    assert len(e2e.keys("prod", "bob")) == 1  # nobody else touched

    # Asked again: the old key is still pending deletion, so it is refused (exit 2), nothing changes.
    again = e2e.ikr("rotate", "--account", prod, "--user", "alice", "--now-due", "--reason", "again")
    assert again.code == 2
    assert f"ikr: account {prod} user alice: not rotated: already rotated; old key {old} is due" in again.stderr
    assert e2e.keys("prod", "alice") == keys


def test_every_opted_in_user_of_one_account(e2e: E2E) -> None:
    e2e.create_table()
    prod = e2e.account("prod")

    run = e2e.ikr("rotate", "--account", prod, "--now-due", "--reason", "audit finding 42")

    assert run.code == 1, run.stdout + run.stderr  # carol's bad tag counts, as in a scheduled run
    assert "on demand (audit finding 42)" in run.line_for("alice")
    assert "on demand (audit finding 42)" in run.line_for("bob")
    assert run.line_for("carol").startswith(" ! carol")  # her bad tag: skipped with the reason, a failure
    assert "not rotated: IKR:ROTATE_AFTER_DAYS='ninety'" in run.line_for("carol")
    assert "untagged" not in run.stdout
    assert len(e2e.keys("prod", "alice")) == len(e2e.keys("prod", "bob")) == 2
    assert len(e2e.keys("prod", "carol")) == 1
    assert len(e2e.keys("dev", "dave")) == 1  # another account: untouched
    assert sorted(item["reason"] for item in e2e.items()) == ["audit finding 42"] * 2


@pytest.mark.parametrize(
    ("account", "user", "message"),
    [
        ("prod", "untagged", "user untagged is not opted in: it has no IKR:EMAIL tag"),
        ("prod", "nobody", "has no IAM user nobody"),
        ("sandbox", "sam", "is not worked by ikr (not-opted-in)"),
        ("999999999999", "sam", "account 999999999999 is not an ACTIVE account of this Organization"),
    ],
)
def test_refused_for_what_it_may_not_rotate(e2e: E2E, account: str, user: str, message: str) -> None:
    e2e.create_table()
    account_id = account if account.isdigit() else e2e.account(account)
    before = e2e.all_keys()

    run = e2e.ikr("rotate", "--account", account_id, "--user", user, "--now-due", "--reason", "test")

    assert run.code == 2, run.stdout + run.stderr
    assert message in run.stderr
    assert e2e.all_keys() == before
    assert e2e.items() == []


def test_refused_with_two_keys_or_a_rotation_in_progress(e2e: E2E) -> None:
    e2e.create_table()
    dev, prod = e2e.account("dev"), e2e.account("prod")
    e2e.client("dev", "iam").create_access_key(UserName="dave")
    (bob_key,) = e2e.keys("prod", "bob")
    table = ExpiryTable(e2e.client("central", "dynamodb"), TABLE)
    # Another run's live lease on bob's rotation.
    table.begin(
        ExpiryItem(
            account_id=prod,
            user_name="bob",
            old_key_id=bob_key,
            state=State.STARTED,
            started_at=1_700_000_000,
            run_id="other-run.abc123",
            lease_until=4_000_000_000,
            known_keys=(bob_key,),
        )
    )

    two = e2e.ikr("rotate", "--account", dev, "--user", "dave", "--now-due", "--reason", "x")
    busy = e2e.ikr("rotate", "--account", prod, "--user", "bob", "--now-due", "--reason", "x")

    assert two.code == 2
    assert "has two access keys" in two.stderr
    assert busy.code == 2
    assert "rotation in progress by run other-run.abc123" in busy.stderr
    assert len(e2e.keys("dev", "dave")) == 2
    assert e2e.keys("prod", "bob") == [bob_key]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--user", "alice", "--reason", "x"], "--user and --reason go with --now-due"),
        (["--now-due", "--reason", "x"], "--now-due needs exactly one --account"),
        (["--account", "PROD", "--now-due"], "--now-due needs --reason"),
        (["--account", "PROD", "--now-due", "--reason", "  "], "--reason is empty"),
    ],
)
def test_bad_usage(e2e: E2E, args: list[str], message: str) -> None:
    args = [e2e.account("prod") if arg == "PROD" else arg for arg in args]
    run = e2e.ikr("rotate", *args)
    assert run.code == 2
    assert message in run.stderr


def test_dry_run_says_what_it_would_do(e2e: E2E) -> None:
    e2e.create_table()
    prod = e2e.account("prod")
    before = e2e.all_keys()

    run = e2e.ikr("rotate", "--dry-run", "--account", prod, "--user", "alice", "--now-due", "--reason", "drill")

    assert run.code == 0, run.stdout + run.stderr
    assert "due on demand (drill); key " in run.line_for("alice")
    assert e2e.all_keys() == before
