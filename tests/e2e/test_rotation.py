"""The whole rotation life cycle through the `ikr` CLI: bootstrap, rotate, mail, decrypt, sweep, destroy."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import boto3
import pytest

from tests.e2e.conftest import DAY_100, DAY_110, E2E, TODAY
from tests.support.servers import MAIL_FROM, ReceivedMail

pytestmark = pytest.mark.e2e

_ENCRYPTED = re.compile(r"^(Access Key|Secret Access Key): (gAAAA\S+)$", re.MULTILINE)


def deletion(now: str, days: int) -> datetime:
    return datetime.fromisoformat(now) + timedelta(days=days)


def mail_to(mails: list[ReceivedMail], address: str) -> ReceivedMail:
    found = [mail for mail in mails if mail.to == address]
    assert len(found) == 1, [mail.to for mail in mails]
    return found[0]


def test_bootstrap_is_idempotent_and_rotate_mails_every_due_user(e2e: E2E) -> None:
    prod, dev, sandbox = e2e.account("prod"), e2e.account("dev"), e2e.account("sandbox")
    first, second = e2e.ikr("bootstrap"), e2e.ikr("bootstrap")
    assert (first.code, second.code) == (0, 0)
    assert first.lines[0].startswith("expiry table ikr-expiry-e2e created; stream arn:aws:dynamodb:")
    assert second.lines[0].startswith("expiry table ikr-expiry-e2e already there; stream arn:aws:dynamodb:")
    before = e2e.all_keys()

    run = e2e.ikr("rotate", "--now", DAY_100, IKR_LOG_LEVEL="DEBUG")

    assert run.code == 1, run.stdout + run.stderr  # carol's bad tag is a failure of the run
    assert run.json_out == []  # logs go to stderr: stdout is the summary
    rotated_logs = [log for log in run.logs if log["message"].startswith("rotated ")]
    assert sorted((log["account_id"], log["user"]) for log in rotated_logs) == sorted([(prod, "alice"), (dev, "dave")])
    alice_log = next(log["message"] for log in rotated_logs if log["user"] == "alice")
    assert alice_log.startswith(f"rotated alice in account {prod}: new key ")  # a sentence a person can read
    assert "mailed to alice@example.com; old key " in alice_log
    assert "Organization, swept 0 overdue expiry item(s)" in run.lines[0]
    assert run.line_for(f"{prod} prod [Root/Workloads]:").endswith("1 rotated, 1 not-due, 1 skipped")
    assert run.line_for(f"{dev} dev [Root/Workloads]:").endswith("1 rotated")
    assert "NOT-OPTED-IN" in run.line_for(f"{sandbox} sandbox [Root/Sandbox]:")
    assert "NOT-OPTED-IN" in run.line_for("123456789012 master [Root]:")
    carol = run.line_for("carol")
    assert carol.startswith(" ! carol")
    assert "IKR:ROTATE_AFTER_DAYS='ninety'" in carol
    assert "not-due" in run.line_for("bob")
    assert "untagged" not in run.stdout
    assert run.lines[-1].endswith("some accounts or users FAILED (exit 1)")

    after = e2e.all_keys()
    for account, user in [("prod", "alice"), ("dev", "dave")]:
        old, new = after[account, user]
        assert [old] == before[account, user]
        assert f"new key {new} mailed to {user}@example.com; old key {old} deleted at" in run.line_for(f"  {user} ")
    for unchanged in [("prod", "bob"), ("prod", "carol"), ("prod", "untagged"), ("sandbox", "sam")]:
        assert after[unchanged] == before[unchanged]

    mails = e2e.sink.wait_for(2)
    assert sorted(mail.to for mail in mails) == ["alice@example.com", "dave@example.com"]
    alice_old, alice_new = after["prod", "alice"]
    mail = mail_to(mails, "alice@example.com")
    assert mail.sender == MAIL_FROM
    assert mail.envelope_to == ("alice@example.com",)
    assert mail.subject == f"New Access Key Pair for alice in prod ({prod})"
    deleted_at = f"{deletion(DAY_100, 3):%Y-%m-%d %H:%M} UTC"  # prod's own IKR:DELETE_AFTER_DAYS
    for expected in (
        f"Account: {prod} ()",  # the account has no IAM alias
        "IAM user: alice",
        f"Your old key {alice_old} stops working when it is deleted at {deleted_at}.",
        "Instruction: Update the CI secret. Then restart the deploy job.",
        f"ikr decrypt --user alice <value>  (with your own credentials in account {prod})",
    ):
        assert expected in mail.text
    assert alice_new not in mail.text  # encrypted by default (ENCRYPT_KEY_PAIR)
    assert alice_old in mail.html
    assert "Update the CI secret." in mail.html
    encrypted = dict(_ENCRYPTED.findall(mail.text))
    assert set(encrypted) == {"Access Key", "Secret Access Key"}

    items = sorted(e2e.items(), key=lambda item: item["user_name"])
    assert [(i["account_id"], i["user_name"], i["state"]) for i in items] == [
        (prod, "alice", "scheduled"),
        (dev, "dave", "scheduled"),
    ]
    assert items[0]["old_key_id"] == alice_old
    assert items[0]["new_key_id"] == alice_new
    assert items[0]["expires_at"] == int(deletion(DAY_100, 3).timestamp())
    assert items[1]["expires_at"] == int(deletion(DAY_100, 5).timestamp())  # DELETE_AFTER_DAYS default
    assert "/ikr/secret/iam/alice" in e2e.parameters("prod")

    decrypted = e2e.ikr(
        "decrypt", "--user", "alice", "--account", prod, encrypted["Access Key"], encrypted["Secret Access Key"]
    )
    assert decrypted.code == 0, decrypted.stderr
    key_id, secret = decrypted.lines
    assert key_id == alice_new
    # The pair works: the emulator knows whose key it is.
    as_alice = boto3.client("sts", aws_access_key_id=key_id, aws_secret_access_key=secret, aws_session_token="")
    assert as_alice.get_caller_identity()["Arn"] == f"arn:aws:iam::{prod}:user/alice"
    # No secret reaches the output, the logs (on at DEBUG) or the table.
    assert secret not in run.stdout + run.stderr
    assert encrypted["Secret Access Key"] not in run.stdout + run.stderr
    assert all(secret not in str(item) for item in items)


def test_expired_old_keys_are_swept_then_destroyed_through_the_stream(e2e: E2E) -> None:
    e2e.create_table()
    assert e2e.ikr("rotate", "--now", DAY_100).code == 1  # carol's bad tag
    rotated = e2e.all_keys()
    assert len(rotated["prod", "alice"]) == len(rotated["dev", "dave"]) == 2

    sweep = e2e.ikr("rotate", "--now", DAY_110)

    assert "swept 2 overdue expiry item(s)" in sweep.lines[0], sweep.stdout
    assert e2e.items() == []
    assert e2e.all_keys() == rotated  # the sweep only removes items; the destructor deletes keys
    assert len(e2e.sink.messages) == 2  # nobody was rotated a second time

    checkpoint = e2e.cwd / "checkpoint.json"
    pump = e2e.ikr("stream-pump", "--now", DAY_110, "--checkpoint", str(checkpoint))

    assert pump.code == 0, pump.stdout + pump.stderr
    handed = re.fullmatch(
        r"stream-pump: (\d+) record\(s\) in \d+ batch\(es\) handed to the destructor, 0 left for a retry",
        pump.lines[-1],
    )
    assert handed, pump.lines
    assert int(handed.group(1)) > 0
    after = e2e.all_keys()
    assert after["prod", "alice"] == rotated["prod", "alice"][1:]  # old gone, new kept
    assert after["dev", "dave"] == rotated["dev", "dave"][1:]
    assert after["prod", "bob"] == rotated["prod", "bob"]
    assert "/ikr/secret/iam/alice" not in e2e.parameters("prod")
    assert "/ikr/secret/iam/dave" not in e2e.parameters("dev")
    assert e2e.items() == []  # nothing put back for a retry
    assert checkpoint.exists()

    again = e2e.ikr("stream-pump", "--now", DAY_110, "--checkpoint", str(checkpoint))
    assert again.code == 0
    assert again.lines[-1].startswith("stream-pump: 0 record(s) in 0 batch(es)")
    assert e2e.all_keys() == after


def test_dry_run_changes_nothing(e2e: E2E) -> None:
    e2e.create_table()
    before = e2e.all_keys()

    run = e2e.ikr("rotate", "--dry-run", "--now", DAY_100)

    assert run.code == 1  # the bad tag is reported in a dry run too
    assert "dry run (nothing changed)" in run.lines[0]
    assert "would-rotate" in run.line_for("alice")
    assert "would-rotate" in run.line_for("dave")
    assert e2e.all_keys() == before
    assert e2e.items() == []
    assert e2e.sink.messages == []
    assert e2e.parameters("prod") == []


def test_with_deactivation_old_keys_go_inactive_first_and_a_user_still_on_the_old_key_is_reminded(e2e: E2E) -> None:
    days = {"DEACTIVATE_BEFORE_DELETE_DAYS": "2"}
    e2e.create_table()
    assert e2e.ikr("rotate", "--now", DAY_100, **days).code == 1  # carol's bad tag
    rotated = e2e.all_keys()
    alice_old, alice_new = rotated["prod", "alice"]
    mail = next(m for m in e2e.sink.messages if m.to == "alice@example.com")
    assert "stops working when it is made inactive at" in mail.text
    assert "deleted 2 day(s) later" in mail.text
    # Something still signs requests with alice's old key after the mail went out.
    boto3.client(
        "sts", aws_access_key_id=alice_old, aws_secret_access_key="x" * 40, aws_session_token=""
    ).get_caller_identity()

    checkpoint = str(e2e.cwd / "checkpoint.json")
    assert e2e.ikr("rotate", "--now", DAY_110, **days).code == 1
    pump = e2e.ikr("stream-pump", "--now", DAY_110, "--checkpoint", checkpoint, **days)

    assert pump.code == 0, pump.stdout + pump.stderr
    assert e2e.all_keys() == rotated  # nothing deleted yet
    statuses = {
        meta["AccessKeyId"]: meta["Status"]
        for meta in e2e.client("prod", "iam").list_access_keys(UserName="alice")["AccessKeyMetadata"]
    }
    assert statuses == {alice_old: "Inactive", alice_new: "Active"}
    assert sorted((i["user_name"], i["state"]) for i in e2e.items()) == [("alice", "scheduled"), ("dave", "scheduled")]
    reminder = [m for m in e2e.sink.messages if m.to == "alice@example.com" and "still in use" in m.subject]
    assert len(reminder) == 1
    assert alice_old in reminder[0].text
    assert "by sts in us-east-1" in reminder[0].text
    assert not [m for m in e2e.sink.messages if m.to == "dave@example.com" and "still in use" in m.subject]

    day_113 = (TODAY + timedelta(days=113)).isoformat(timespec="seconds")
    assert e2e.ikr("rotate", "--now", day_113, **days).code == 1
    assert e2e.ikr("stream-pump", "--now", day_113, "--checkpoint", checkpoint, **days).code == 0

    after = e2e.all_keys()
    assert after["prod", "alice"] == [alice_new]
    assert after["dev", "dave"] == rotated["dev", "dave"][1:]
    assert e2e.items() == []
    assert len([m for m in e2e.sink.messages if "still in use" in m.subject]) == 1  # reminded once
