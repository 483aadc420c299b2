"""`ikr exposed`: a key someone found exposed, handled through the real CLI as AWS Health's event is."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import E2E

pytestmark = pytest.mark.e2e


def test_a_key_reported_exposed_is_rotated_and_made_inactive_at_once(e2e: E2E) -> None:
    e2e.create_table()
    prod = e2e.account("prod")
    (old,) = e2e.keys("prod", "alice")

    found = "posted in a public gist by a CI job"
    run = e2e.ikr("exposed", "--account", prod, "--key-id", old, "--found", found)

    assert run.code == 0, run.stdout + run.stderr
    assert f"account {prod} user alice key {old}: rotated:" in run.stdout
    keys = e2e.keys("prod", "alice")
    assert len(keys) == 2
    assert keys[0] == old
    metadata = e2e.client("prod", "iam").list_access_keys(UserName="alice")["AccessKeyMetadata"]
    assert {key["AccessKeyId"]: key["Status"] for key in metadata}[old] == "Inactive"  # at once
    (item,) = e2e.items()
    assert (item["old_key_id"], item["reason"]) == (old, "exposed")
    assert "alice@example.com" in {mail.to for mail in e2e.sink.messages}  # the user is told
    texts = "\n".join(mail.text for mail in e2e.sink.messages)
    assert found in texts
    assert "reported exposed by `ikr exposed` run by" in texts
    assert "AWSCompromisedKeyQuarantine" not in texts  # only AWS's own report attaches that policy

    again = e2e.ikr("exposed", "--account", prod, "--key-id", old, "--found", found)
    assert again.code == 0, again.stdout + again.stderr
    assert "already-handled" in again.stdout
    assert e2e.keys("prod", "alice") == keys  # nothing new


@pytest.mark.parametrize(
    ("key_id", "message"),
    [
        ("AKIA123", "'AKIA123' is not an access key id"),
        ("ASIAABCDEFGHIJKLMNOP", "is a temporary key (ASIA...)"),
    ],
)
def test_a_value_that_is_no_long_lived_key_id_is_refused(e2e: E2E, key_id: str, message: str) -> None:
    run = e2e.ikr("exposed", "--account", e2e.account("prod"), "--key-id", key_id, "--found", "a log")
    assert run.code == 2
    assert message in run.stderr


def test_an_unknown_key_is_left_to_a_person_with_exit_1(e2e: E2E) -> None:
    e2e.create_table()
    before = e2e.all_keys()

    run = e2e.ikr("exposed", "--account", e2e.account("prod"), "--key-id", "AKIAUNKNOWN000000000", "--found", "chat")

    assert run.code == 1, run.stdout + run.stderr
    assert "AKIAUNKNOWN000000000: unknown-key:" in run.stdout
    assert e2e.all_keys() == before
