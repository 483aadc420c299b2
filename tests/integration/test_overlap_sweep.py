"""Two runs at once, every pause point enumerated from a recorded run: a second `ikr rotate` (and,
separately, a second delivery of the same account message to the account worker) runs whole while
the first is paused right after each of its AWS calls in turn; then the first finishes. Also the
crash sweep during an overlap: the first run dies after each of its calls while the other holds a
lease. See `tests/integration/overlap.py` for what must hold afterwards.

The suite runs every third pause point; `make sweeps` (IKR_FULL_SWEEP=1) runs them all and prints
the figures."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from typing import Any

import boto3
import pytest

from central.aws.stream_pump import LocalLambdaContext
from central.rotation.account_queue import AccountMessage
from handlers import account_worker, rotator
from tests.integration.fixtures_extra import (
    LATER,
    shared_botocore_loader,  # noqa: F401 - autouse: shared service models (speed)
)
from tests.integration.overlap import Gate, Overlap, on_thread, overlap_world, sample

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ikr_logging_restored")]
FULL = os.environ.get("IKR_FULL_SWEEP") == "1"


def _calls_of_one_run(tmp: Path, run: Any) -> int:
    with overlap_world(tmp) as world:
        run(world)
        return len(world.faults.calls)


def _rotate(world: Overlap) -> int:
    return world.rotate(LATER)


def test_two_rotate_runs_interleaved_at_every_aws_call_keep_every_guarantee(tmp_path: Path):
    points = list(range(1, _calls_of_one_run(tmp_path, _rotate) + 1))
    tried = sample(points, FULL)
    failures: list[str] = []
    for n in tried:
        with overlap_world(tmp_path) as world:
            gate = Gate(world.monkeypatch, "run-a", after=n)
            thread, first = on_thread("run-a", partial(_rotate, world))
            gate.reached.wait(60)
            second = world.rotate(LATER)  # the operator's run, while the scheduled one is paused
            gate.release()
            thread.join(120)
            if first.error is not None:
                failures.append(f"pause {n}: the paused run raised {first.error!r}")
            world.codes.extend([c for c in (first.code,) if c is not None])
            assert second in (0, 1)
            world.settle()
            failures.extend(world.check(f"pause {n}"))
    print(f"rotate x rotate: interleavings tried {len(tried)} of {len(points)}, held {len(tried) - len(failures)}")
    assert failures == []


def test_a_run_killed_after_any_aws_call_while_another_run_holds_a_lease_loses_nothing(tmp_path: Path):
    points = list(range(1, _calls_of_one_run(tmp_path, _rotate) + 1))
    tried = sample(points, FULL)
    # run B takes alice's lease (its first journal write) and waits there: a live overlapping run
    first_put = 1 + next(i for i, c in enumerate(_recorded(tmp_path)) if c == "PutItem")
    failures: list[str] = []
    for n in tried:
        with overlap_world(tmp_path) as world:
            holder = Gate(world.monkeypatch, "run-b", after=first_put)
            b_thread, b = on_thread("run-b", partial(world.rotate, LATER))
            holder.reached.wait(60)
            killer = Gate(world.monkeypatch, "run-a", after=n, crash=True)
            a_thread, a = on_thread("run-a", partial(world.rotate, LATER))
            a_thread.join(120)
            holder.release()
            b_thread.join(120)
            if b.error is not None:
                failures.append(f"crash {n}: the live run raised {b.error!r}")
            if killer.count >= n and a.error is None:
                failures.append(f"crash {n}: did not crash")
            world.settle()
            failures.extend(world.check(f"crash {n}"))
    print(
        f"crash during overlap: crash points tried {len(tried)} of {len(points)}, survived {len(tried) - len(failures)}"
    )
    assert failures == []


_RECORDED: list[str] = []


def _recorded(tmp: Path) -> list[str]:
    """The operations of one ordinary run, in order (recorded once per test process)."""
    if not _RECORDED:
        with overlap_world(tmp) as world:
            world.rotate(LATER)
            _RECORDED.extend(call.operation for call in world.faults.calls)
    return _RECORDED


class _Context(LocalLambdaContext):
    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def _queued_event(world: Overlap) -> dict[str, Any]:
    """The rotator queues the account; the event the queue's mapping would hand the worker."""
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="ikr-accounts")["QueueUrl"]
    world.monkeypatch.setenv("IKR_ACCOUNT_QUEUE_URL", url)
    world.monkeypatch.setenv("IKR_NOW", LATER.isoformat())
    rotator.handler({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}, _Context())
    # Every ACTIVE account is queued (its own tags are the worker's to read): prod's is the one to work.
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    (message,) = [m for m in messages if AccountMessage.model_validate_json(m["Body"]).account.id == world.prod]
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:ikr-accounts",
                "awsRegion": "us-east-1",
            }
        ]
    }


def _worker(world: Overlap, event: dict[str, Any]) -> int:
    answer = account_worker.handler(event, _Context())
    return 1 if answer["batchItemFailures"] else 0


def test_one_account_message_delivered_twice_at_once_is_worked_once(tmp_path: Path):
    def one(world: Overlap) -> None:
        event = _queued_event(world)
        world.faults.calls.clear()
        _worker(world, event)

    points = list(range(1, _calls_of_one_run(tmp_path, one) + 1))
    tried = sample(points, FULL)
    failures: list[str] = []
    for n in tried:
        with overlap_world(tmp_path) as world:
            event = _queued_event(world)
            gate = Gate(world.monkeypatch, "worker-a", after=n)
            thread, first = on_thread("worker-a", partial(_worker, world, event))
            gate.reached.wait(60)
            world.codes.append(_worker(world, event))  # SQS hands the same message to a second worker
            gate.release()
            thread.join(120)
            if first.error is not None:
                failures.append(f"pause {n}: the paused worker raised {first.error!r}")
            world.monkeypatch.delenv("IKR_ACCOUNT_QUEUE_URL")
            world.monkeypatch.delenv("IKR_NOW")
            world.settle()
            failures.extend(world.check(f"pause {n}"))
    print(f"worker x worker: interleavings tried {len(tried)} of {len(points)}, held {len(tried) - len(failures)}")
    assert failures == []
