"""ikr beside aws-iam-key-rotator on one standalone account: the same users rotated on the same day,
the same deletion day, and mails a runbook written for the original still reads.

The original's behaviour is encoded from its v3.6 code (`tests/compat/original.py` says where each
rule comes from); it is not run here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from cryptography.fernet import Fernet

from central.aws.expiry_item import from_epoch
from tests.compat import original
from tests.compat.standalone import ALIAS, SENDER, add_user, created, environment, ikr, items, key_ids, table
from tests.support.servers import SmtpSink

pytestmark = [
    pytest.mark.usefixtures("ikr_logging_restored"),
    pytest.mark.filterwarnings("ignore:No application metrics to publish"),
]

USERS = {
    # name: (tags, keys)
    "default-85": ({"IKR:EMAIL": "a@example.com"}, 1),
    "tag-30": ({"ikr:email": "b@example.com", "ikr:rotate_after_days": "30"}, 1),  # keys in any case
    "tag-100": ({"Ikr:Email": "c@example.com", "IKR:ROTATE_AFTER_DAYS": "100", "IKR:DELETE_AFTER_DAYS": "2"}, 1),
    "two-keys": ({"IKR:EMAIL": "d@example.com"}, 2),
    "no-email": ({"IKR:ROTATE_AFTER_DAYS": "1"}, 1),
    "no-key": ({"IKR:EMAIL": "e@example.com"}, 0),
}


def _world(central: boto3.Session, monkeypatch: pytest.MonkeyPatch, port: int) -> dict[str, str]:
    env = environment(monkeypatch, port)
    for name, (tags, keys) in USERS.items():
        add_user(central, name, tags, keys)
    table(central).create()
    return env


def _ikr_rotates(capsys: pytest.CaptureFixture[str], now: datetime) -> set[str]:
    run = ikr(capsys, "plan", now=now)
    assert run.code == 0, run.out + run.err
    rows = [line.split() for line in run.out.splitlines() if line.startswith("   ")]
    return {row[0] for row in rows if row[1] == "would-rotate"}


@pytest.mark.parametrize(
    "age",
    [
        timedelta(days=30, hours=23),  # tag-30: 30 whole days, not more than 30: not yet (either tool)
        timedelta(days=31, hours=1),  # tag-30 due
        timedelta(days=85, hours=23),  # 85 d 23 h: not yet for the 85-day default
        timedelta(days=86, hours=1),  # 86 d 1 h: due
        timedelta(days=100, hours=23),
        timedelta(days=101, hours=1),
    ],
    ids=lambda age: f"{age.days}d{age.seconds // 3600}h",
)
def test_the_same_users_are_rotated_on_the_same_day(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], age: timedelta
):
    with SmtpSink() as sink:
        env = _world(central, monkeypatch, sink.port)
        now = max(created(central, name) for name, (_, keys) in USERS.items() if keys) + age

        by_original = set(original.creator(central.client("iam"), now, env))
        by_ikr = _ikr_rotates(capsys, now)

    assert by_ikr == by_original
    assert "two-keys" not in by_ikr  # and never the user without IKR:EMAIL, nor the one without a key
    assert not by_ikr & {"no-email", "no-key"}


def test_the_old_key_is_deleted_on_the_originals_day_never_earlier(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    with SmtpSink() as sink:
        env = _world(central, monkeypatch, sink.port)
        now = created(central, "tag-100") + timedelta(days=101, hours=5)
        expected = original.creator(central.client("iam"), now, env)

        run = ikr(capsys, "rotate", now=now)

    assert run.code == 0, run.out + run.err
    assert set(expected) == {"default-85", "tag-30", "tag-100"}
    for user, rotation in expected.items():
        (item,) = items(central, user)
        assert item.old_key_id == rotation.old_key
        assert item.expires_at is not None
        # The original: midnight UTC of the rotation day + the days; ikr: the moment of delivery + the days.
        # The same day; ikr a few hours later in it, never before.
        assert from_epoch(item.expires_at).date() == from_epoch(rotation.delete_on).date()
        assert rotation.delete_on <= item.expires_at < rotation.delete_on + 86_400


def test_a_runbook_for_the_originals_mails_reads_ikrs(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
):
    with SmtpSink() as sink:
        _world(central, monkeypatch, sink.port)
        central.client("iam").create_account_alias(AccountAlias=ALIAS)
        add_user(central, "runbook", {"IKR:EMAIL": "ops@example.com", "IKR:INSTRUCTION_0": "Update CI."})
        (old,) = key_ids(central, "runbook")
        now = created(central, "runbook") + timedelta(days=86, hours=1)

        rotated = ikr(capsys, "rotate", now=now)
        (mail,) = [mail for mail in sink.wait_for(3) if mail.to == "ops@example.com"]
        fernet_key = central.client("ssm").get_parameter(Name="/ikr/secret/iam/runbook", WithDecryption=True)
        new_keys = [key for key in key_ids(central, "runbook") if key != old]
        sink.clear()
        later = now + timedelta(days=5, hours=1)
        swept = ikr(capsys, "rotate", now=later)
        pumped = ikr(capsys, "stream-pump", "--checkpoint", str(tmp_path / "checkpoint.json"), now=later)
        deleted = [mail for mail in sink.wait_for(1) if mail.to == "ops@example.com"]

    assert (rotated.code, swept.code, pumped.code) == (0, 0, 0), rotated.out + swept.out + pumped.out
    # The new-key mail: its subject, its From header as MAIL_FROM gives it, the original's labels.
    assert "New Access Key Pair" in mail.subject
    assert mail.sender == SENDER
    found = {name: pattern.search(mail.text) for name, pattern in original.RUNBOOK.items()}
    assert all(found.values()), mail.text
    assert found["account"] is not None
    assert found["account"].groups() == ("123456789012", ALIAS)
    assert found["instruction"] is not None
    assert found["instruction"].group(1).startswith("Update CI.")
    # Encrypted as the original encrypts (ENCRYPT_KEY_PAIR=true): decryption.py's one call reads it.
    cipher = Fernet(fernet_key["Parameter"]["Value"])
    assert found["access_key"] is not None
    assert found["secret"] is not None
    new_key = cipher.decrypt(found["access_key"].group(1).encode()).decode()
    assert new_keys == [new_key]
    assert key_ids(central, "runbook") == [new_key]  # by now the old key is gone
    assert cipher.decrypt(found["secret"].group(1).encode())
    # The old key with its deletion date.
    assert old in mail.text
    assert f"{(now + timedelta(days=5)):%Y-%m-%d}" in mail.text
    # Its deletion: the original's subject, naming the key.
    (gone,) = deleted
    assert "Old Access Key Pair Deleted" in gone.subject
    assert old in gone.subject
    assert original.RUNBOOK["access_key"].search(gone.text).group(1) == old  # type: ignore[union-attr]
    assert datetime.now(UTC) < later  # all of it on ikr's planned clock
