"""A local stand-in for Lambda's DynamoDB stream event source mapping.

Reads the expiry table's stream from where it last stopped (a checkpoint file, never the table:
writing into the table while reading its stream never ends), shapes the records as Lambda would,
hands them in batches to a handler, and like Lambda stops a shard at the first record the handler
reports as failed so it is offered again next time.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from central.aws.errors import aws_call
from central.aws.partition import COMMERCIAL, of_arn

if TYPE_CHECKING:
    from mypy_boto3_dynamodbstreams import DynamoDBStreamsClient

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
_MAX_PAGES_PER_SHARD = 10_000  # a bound, not an expectation: the emulator never closes a shard


@dataclass
class LocalLambdaContext:
    """The attributes Powertools reads from a Lambda context."""

    function_name: str = "ikr-destructor-local"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    partition: str = COMMERCIAL  # the pump gives its stream's: a function ARN is in the table's partition

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:{self.partition}:lambda:local:000000000000:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


@dataclass
class PumpResult:
    records: int = 0
    batches: int = 0
    failed: int = 0


class Checkpoint:
    """Last handled sequence number per stream shard, kept in a JSON file."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._positions: dict[str, str] = {}
        if path is not None and path.exists():
            self._positions = json.loads(path.read_text(encoding="utf-8"))

    def get(self, stream_arn: str, shard_id: str) -> str | None:
        return self._positions.get(f"{stream_arn}|{shard_id}")

    def set(self, stream_arn: str, shard_id: str, sequence: str) -> None:
        self._positions[f"{stream_arn}|{shard_id}"] = sequence
        if self._path is not None:
            self._path.write_text(json.dumps(self._positions, indent=1), encoding="utf-8")


def pump(
    streams: DynamoDBStreamsClient, stream_arn: str, handler: Handler, checkpoint: Checkpoint, batch_size: int = 100
) -> PumpResult:
    result = PumpResult()
    found = of_arn(stream_arn)
    partition = found.name if found is not None else COMMERCIAL
    for shard_id in _shards(streams, stream_arn):
        after = checkpoint.get(stream_arn, shard_id)
        kwargs: dict[str, Any] = {"StreamArn": stream_arn, "ShardId": shard_id}
        if after:
            kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=after)
        else:
            kwargs.update(ShardIteratorType="TRIM_HORIZON")
        with aws_call("dynamodbstreams:GetShardIterator", f"stream {stream_arn} shard {shard_id}"):
            iterator: str | None = streams.get_shard_iterator(**kwargs)["ShardIterator"]
        for _ in range(_MAX_PAGES_PER_SHARD):
            if not iterator:
                break
            with aws_call("dynamodbstreams:GetRecords", f"stream {stream_arn} shard {shard_id}"):
                page = streams.get_records(ShardIterator=iterator, Limit=batch_size)
            records = page["Records"]
            if not records:
                break  # the emulator never returns a null NextShardIterator: stop on an empty page
            event = {"Records": [_lambda_record(record, stream_arn) for record in records]}
            response = handler(event, LocalLambdaContext(partition=partition))
            result.batches += 1
            failures = [entry["itemIdentifier"] for entry in response.get("batchItemFailures", [])]
            done = _handled_prefix(records, failures)
            result.records += len(done)
            if done:
                checkpoint.set(stream_arn, shard_id, done[-1]["dynamodb"]["SequenceNumber"])
            if failures:
                result.failed += len(records) - len(done)
                break  # offer the failed record again on the next pump, as Lambda would
            iterator = page.get("NextShardIterator")
    return result


def _shards(streams: DynamoDBStreamsClient, stream_arn: str) -> list[str]:
    shards: list[str] = []
    start: dict[str, str] = {}
    while True:
        with aws_call("dynamodbstreams:DescribeStream", f"stream {stream_arn}"):
            description = streams.describe_stream(StreamArn=stream_arn, **start)["StreamDescription"]  # type: ignore[arg-type]
        shards.extend(shard["ShardId"] for shard in description.get("Shards", []))
        last = description.get("LastEvaluatedShardId")
        if not last:
            return shards
        start = {"ExclusiveStartShardId": last}


def _handled_prefix(records: list[Any], failed_sequences: list[str]) -> list[Any]:
    if not failed_sequences:
        return records
    failed = set(failed_sequences)
    for index, record in enumerate(records):
        if record["dynamodb"]["SequenceNumber"] in failed:
            return records[:index]
    return records


def _lambda_record(record: Any, stream_arn: str) -> dict[str, Any]:
    shaped: dict[str, Any] = json.loads(json.dumps(record, default=_plain))
    shaped["eventSourceARN"] = stream_arn
    created = record["dynamodb"].get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        shaped["dynamodb"]["ApproximateCreationDateTime"] = int(created.timestamp())
    return shaped


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")  # as Lambda shapes binary attributes
    raise TypeError(f"cannot shape {type(value).__name__} in a stream record")
