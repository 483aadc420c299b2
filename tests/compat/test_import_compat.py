"""The switch from aws-iam-key-rotator: `ikr import-original` takes over its pending deletions, and
ikr's destructor deletes the original's old key on its date and not before; `IAM_KEY_ROTATOR_TABLE`
still naming the original's table is refused by name with nothing touched.

The original's table and items are made here as its Terraform and `creator.py` (v3.6) make them
(`tests/compat/original.py`); its Lambdas are not run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from central.aws.expiry_item import State, from_epoch
from tests.compat import original
from tests.compat.standalone import (
    ORIGINAL_TABLE,
    TABLE,
    add_user,
    environment,
    ikr,
    items,
    key_ids,
    parameter_exists,
    table,
)
from tests.support.servers import SmtpSink

pytestmark = [
    pytest.mark.usefixtures("ikr_logging_restored"),
    pytest.mark.filterwarnings("ignore:No application metrics to publish"),
]

TODAY = datetime.now(UTC)
# As the original's creator records it after a rotation today with DELETE_AFTER_DAYS=3.
DELETE_ON = round(original.midnight_utc(TODAY).timestamp()) + 3 * original.DAY


def _fernet_parameter(central: boto3.Session, user: str) -> str:
    name = f"/ikr/secret/iam/{user}"
    central.client("ssm").put_parameter(Name=name, Value="not-a-real-fernet-key", Type="SecureString")
    return name


def _original_world(central: boto3.Session) -> dict[str, list[str]]:
    """Users the original rotated today (two keys each, the old one in its table), one whose old key
    someone deleted since, one deleted user, and one unusable item."""
    dynamodb = central.client("dynamodb")
    original.create_table(dynamodb, ORIGINAL_TABLE)
    keys = {
        "enc-user": add_user(central, "enc-user", {"IKR:EMAIL": "enc@example.com"}, keys=2),
        "plain-user": add_user(central, "plain-user", {"IKR:EMAIL": "plain@example.com"}, keys=2),
        "gone-key": add_user(central, "gone-key", {"IKR:EMAIL": "gone@example.com"}, keys=1),
    }
    _fernet_parameter(central, "enc-user")
    _fernet_parameter(central, "plain-user")  # made by hand or an earlier encrypted rotation: not the original's
    rows = [
        original.table_item("enc-user", keys["enc-user"][0], "enc@example.com", DELETE_ON, encrypted=True),
        original.table_item("plain-user", keys["plain-user"][0], "plain@example.com", DELETE_ON, encrypted=False),
        original.table_item("gone-key", "AKIAGONE000000000001", "gone@example.com", DELETE_ON, encrypted=True),
        original.table_item("no-such-user", "AKIANOUSER0000000001", "x@example.com", DELETE_ON, encrypted=True),
        {"user": {"S": "broken"}, "ak": {"S": "AKIABROKEN0000000001"}, "delete_on": {"S": "soon"}},
    ]
    for row in rows:
        dynamodb.put_item(TableName=ORIGINAL_TABLE, Item=row)
    return keys


def _original_items(central: boto3.Session) -> list[dict[str, object]]:
    scanned = central.client("dynamodb").scan(TableName=ORIGINAL_TABLE)["Items"]
    return sorted(scanned, key=lambda item: (str(item["user"]), str(item["ak"])))


def test_import_then_the_destructor_deletes_the_originals_key_on_its_date_and_not_before(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
):
    with SmtpSink() as sink:
        environment(monkeypatch, sink.port)
        keys = _original_world(central)
        table(central).create()
        before = _original_items(central)
        checkpoint = str(tmp_path / "checkpoint.json")

        dry = ikr(capsys, "import-original", "--table", ORIGINAL_TABLE, "--dry-run")
        assert items(central, "enc-user") == []  # a dry run writes nothing
        first = ikr(capsys, "import-original", "--table", ORIGINAL_TABLE)
        again = ikr(capsys, "import-original", "--table", ORIGINAL_TABLE)
        taken = items(central, "enc-user")

        # The day before: both users wait for their deletion, neither is rotated nor skipped.
        eve = from_epoch(DELETE_ON) - timedelta(hours=1)
        waiting = ikr(capsys, "rotate", now=eve)
        early = ikr(capsys, "stream-pump", "--checkpoint", checkpoint, now=eve)
        kept = {user: key_ids(central, user) for user in ("enc-user", "plain-user")}

        # Its date: ikr's sweep hands the items to the destructor.
        due = from_epoch(DELETE_ON) + timedelta(minutes=1)
        swept = ikr(capsys, "rotate", now=due)
        pumped = ikr(capsys, "stream-pump", "--checkpoint", checkpoint, now=due)
        mails = sink.wait_for(2)

    # dry run and import: two taken over, the gone key and the gone user reported, the broken item named
    assert dry.code == 1  # the unreadable item
    assert dry.line_for("enc-user").split()[0] == "would-import"
    assert first.code == 1, first.out + first.err
    assert first.line_for("enc-user").split()[0] == "imported"
    assert f"deleted at {from_epoch(DELETE_ON):%Y-%m-%d %H:%M} UTC" in first.line_for("enc-user")
    assert first.line_for("plain-user").split()[0] == "imported"
    assert "kept (delete_enc_key N)" in first.line_for("plain-user")
    assert first.line_for("gone-key").split()[0] == "key-gone"
    assert "AKIAGONE000000000001 no longer exists" in first.line_for("gone-key")
    assert "user no-such-user no longer exists" in first.line_for("no-such-user")
    assert first.line_for("broken").startswith("! unreadable")
    assert "delete_on" in first.line_for("broken")
    assert "2 pending deletion(s) taken over" in first.out
    # idempotent
    assert again.line_for("enc-user").split()[0] == "already"
    assert "0 pending deletion(s) taken over, 2 already in ikr's table" in again.out
    (item,) = taken
    assert (item.state, item.old_key_id, item.expires_at) == (State.SCHEDULED, keys["enc-user"][0], DELETE_ON)
    assert item.new_key_id == keys["enc-user"][1]
    # not before its date
    assert waiting.code == 0, waiting.out + waiting.err
    assert "pending" in waiting.line_for("enc-user")
    assert early.code == 0
    assert kept == {user: sorted(keys[user]) for user in ("enc-user", "plain-user")}
    # on its date: the old keys go, the new ones stay; the Fernet key only where delete_enc_key was Y
    assert (swept.code, pumped.code) == (0, 0), swept.out + pumped.out
    assert key_ids(central, "enc-user") == [keys["enc-user"][1]]
    assert key_ids(central, "plain-user") == [keys["plain-user"][1]]
    assert not parameter_exists(central, "/ikr/secret/iam/enc-user")
    assert parameter_exists(central, "/ikr/secret/iam/plain-user")
    assert sorted("Old Access Key Pair Deleted" in mail.subject for mail in mails) == [True, True]
    # the original's table was read, never written
    assert _original_items(central) == before


def test_a_key_due_during_the_switch_goes_at_the_first_run_after_the_import(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
):
    with SmtpSink() as sink:
        environment(monkeypatch, sink.port)
        keys = _original_world(central)
        table(central).create()
        late = from_epoch(DELETE_ON) + timedelta(days=1)  # its time passed while the tools were switched

        imported = ikr(capsys, "import-original", "--table", ORIGINAL_TABLE, now=None)
        swept = ikr(capsys, "rotate", now=late)
        pumped = ikr(capsys, "stream-pump", "--checkpoint", str(tmp_path / "c.json"), now=late)

    assert "imported" in imported.line_for("enc-user")
    assert (swept.code, pumped.code) == (0, 0), swept.out + pumped.out
    assert key_ids(central, "enc-user") == [keys["enc-user"][1]]


def test_ikr_pointed_at_the_originals_table_is_refused_by_name_and_touches_nothing(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    with SmtpSink() as sink:
        environment(monkeypatch, sink.port, IAM_KEY_ROTATOR_TABLE=ORIGINAL_TABLE)
        keys = _original_world(central)
        add_user(central, "due", {"IKR:EMAIL": "due@example.com", "IKR:ROTATE_AFTER_DAYS": "1"})
        before = _original_items(central)
        ttl = central.client("dynamodb").describe_time_to_live(TableName=ORIGINAL_TABLE)["TimeToLiveDescription"]
        due_keys = key_ids(central, "due")

        bootstrap = ikr(capsys, "bootstrap")
        rotate = ikr(capsys, "rotate", now=TODAY + timedelta(days=30))
        importing = ikr(capsys, "import-original", "--table", ORIGINAL_TABLE)

    for run in (bootstrap, rotate, importing):
        assert run.code == 2
        assert run.out == ""
        assert f"table {ORIGINAL_TABLE} (IAM_KEY_ROTATOR_TABLE) is aws-iam-key-rotator's table" in run.err
        assert f"ikr import-original --table {ORIGINAL_TABLE}" in run.err
        assert "ValidationException" not in run.err
    assert _original_items(central) == before
    assert central.client("dynamodb").describe_time_to_live(TableName=ORIGINAL_TABLE)["TimeToLiveDescription"] == ttl
    assert key_ids(central, "due") == due_keys
    assert key_ids(central, "enc-user") == sorted(keys["enc-user"])
    assert TABLE not in central.client("dynamodb").list_tables()["TableNames"]
