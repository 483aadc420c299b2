"""From expiry to deletion without Lambda: the rotator's sweep removes overdue items, the local stream
pump hands the table's stream to the destructor handler, and the old keys go."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from central.aws.expiry_item import ExpiryItem, State, epoch
from central.aws.stream_pump import Checkpoint, pump
from central.rotation.run import run_rotation
from handlers import destructor
from tests.integration.conftest import TABLE
from tests.integration.fixtures_extra import (
    LATER,
    clean_harness,
    items,
    key_ids,
    shared_botocore_loader,  # noqa: F401 - autouse: shared service models (speed)
    ssm_parameter_exists,
)

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


def test_sweep_removes_only_scheduled_items_past_their_time_and_records_when(central: boto3.Session):
    harness = clean_harness(central)
    run_rotation(harness.services)  # alice's old key expires after 3 days (prod), dave's and olga's after 5
    ids = harness.world.account_ids
    (bob_key,) = key_ids(harness, "prod", "bob")
    journal_entry = ExpiryItem(
        account_id=ids["prod"], user_name="bob", old_key_id=bob_key, state=State.STARTED, started_at=epoch(LATER)
    )
    given_up = journal_entry.model_copy(
        update={"old_key_id": "AKIAGIVENUP000000000", "state": State.FAILED, "expires_at": epoch(LATER)}
    )
    harness.table.put(journal_entry)
    harness.table.put(given_up)
    sweep_at = LATER + timedelta(days=4)

    removed = harness.table.sweep(sweep_at)

    assert [(item.user_name, item.state) for item in removed] == [("alice", State.SCHEDULED)]
    assert [item.user_name for item in items(harness, "prod")] == ["bob", "bob"]  # journal and failed stay
    assert [item.user_name for item in items(harness, "dev")] == ["dave"]
    assert [item.user_name for item in items(harness, "ops")] == ["olga"]
    # the stream's REMOVE carries the sweep's clock, so the destructor can judge with its own
    seen: list[dict[str, Any]] = []

    def collect(event, _context):
        seen.extend(event["Records"])
        return {"batchItemFailures": []}

    pump(central.client("dynamodbstreams"), harness.table.stream_arn(), collect, Checkpoint(None))
    (remove,) = [record for record in seen if record["eventName"] == "REMOVE"]
    image = remove["dynamodb"]["OldImage"]
    assert image["user_name"] == {"S": "alice"}
    assert image["swept_at"] == {"N": str(epoch(sweep_at))}
    assert harness.table.sweep(sweep_at) == []


def test_swept_items_reach_the_destructor_through_the_stream_and_old_keys_go(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    harness = clean_harness(central)
    old = {user: key_ids(harness, account, user)[0] for account, user in (("prod", "alice"), ("dev", "dave"))}
    run_rotation(harness.services)
    sweep_at = LATER + timedelta(days=4)
    (swept,) = harness.table.sweep(sweep_at)
    assert swept.user_name == "alice"
    # The destructor runs on the real clock, long before the expiry: only the sweep's swept_at makes
    # the removal count as expired (the sweep and the destructor must agree on the clock).
    assert datetime.now(UTC) < LATER
    monkeypatch.setenv("MAIL_FROM", "ikr@example.com")
    monkeypatch.setenv("IAM_KEY_ROTATOR_TABLE", TABLE)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "ikr-test")
    streams = central.client("dynamodbstreams")
    checkpoint_file = tmp_path / "checkpoint.json"

    first = pump(streams, harness.table.stream_arn(), destructor.handler, Checkpoint(checkpoint_file))

    assert first.failed == 0
    assert first.records >= 7  # 3 rotations x (begin, advance, advance) and the sweep's update + remove
    alice_keys = key_ids(harness, "prod", "alice")
    assert old["alice"] not in alice_keys
    assert len(alice_keys) == 1
    assert not ssm_parameter_exists(harness, "prod", "alice")
    assert key_ids(harness, "dev", "dave")[0] == old["dave"]  # not yet due
    assert ssm_parameter_exists(harness, "dev", "dave")
    assert [item.user_name for item in items(harness, "prod")] == []  # not put back

    second = pump(streams, harness.table.stream_arn(), destructor.handler, Checkpoint(checkpoint_file))

    assert (second.records, second.batches, second.failed) == (0, 0, 0)


def test_the_pump_stops_at_a_failed_record_and_offers_it_again_next_time(central: boto3.Session, tmp_path: Path):
    harness = clean_harness(central)
    for n in range(5):
        harness.table.put(
            ExpiryItem(
                account_id="210987654321",
                user_name=f"u{n}",
                old_key_id=f"AKIAPUMPTEST0000000{n}",
                state=State.SCHEDULED,
                started_at=epoch(LATER),
                expires_at=epoch(LATER),
            )
        )
    seen: list[str] = []
    failing = {"u2"}

    def handler(event, _context):
        failures = []
        for record in event["Records"]:
            user = record["dynamodb"]["NewImage"]["user_name"]["S"]
            seen.append(user)
            if user in failing:
                failures.append({"itemIdentifier": record["dynamodb"]["SequenceNumber"]})
        return {"batchItemFailures": failures}

    streams = central.client("dynamodbstreams")
    checkpoint = tmp_path / "checkpoint.json"

    first = pump(streams, harness.table.stream_arn(), handler, Checkpoint(checkpoint), batch_size=2)

    assert seen == ["u0", "u1", "u2", "u3"]  # batches of two; the batch with the failure ends the shard
    assert (first.records, first.failed) == (2, 2)  # u2 and the u3 after it are left for a retry

    seen.clear()
    failing.clear()
    second = pump(streams, harness.table.stream_arn(), handler, Checkpoint(checkpoint), batch_size=2)

    assert seen == ["u2", "u3", "u4"]
    assert (second.records, second.failed) == (3, 0)
