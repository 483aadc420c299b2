"""Where an unfinished fan-out run stopped walking the Organization: one item in the expiry table.

The rotator Lambda that nears its timeout writes the walk's cursor here; the next invocation (its own
re-invocation, or the next scheduled run) reads it and goes on from there. The item lives beside the
run's other state under a partition key no account id can have (`#ikr-run`), holds no secret, has
no `state` or `expires_at` (the sweep's scan never returns it, TTL never removes it) and is never
deleted (a REMOVE would wake the destructor): a finished walk is marked `finished`.

Every write is conditional on `seq`, the number of the last write: an invocation owns the walk from
its claim (seq + 1) to its next write, and one that lost it to another (two invocations at once)
gets `WalkTaken` instead of walking the same accounts twice.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from central.aws.errors import AwsConditionFailed, aws_call
from central.aws.expiry_item import RUN_PARTITION
from central.aws.org_walk import WalkCursor

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PARTITION = RUN_PARTITION
SORT_KEY = "walk"


class WalkTaken(Exception):
    """Another invocation wrote the walk's position since this one read it: that one owns it now."""


class WalkPosition(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: str = Field(min_length=1, max_length=64)
    now: AwareDatetime  # the run's instant, as its first invocation read it
    started_at: AwareDatetime  # when the run's first invocation started walking
    cursor: WalkCursor
    queued: int = Field(0, ge=0)  # accounts queued so far by every invocation of the run
    part: int = Field(1, ge=1)  # the invocation of the run that wrote this (1: the first)
    finished: bool = False
    seq: int = Field(0, ge=0)  # the number of writes of this item (0: not written yet)


class WalkPositions:
    def __init__(self, dynamodb: DynamoDBClient, table_name: str) -> None:
        self._db = dynamodb
        self.name = table_name

    def _call(self, operation: str) -> AbstractContextManager[None]:
        return aws_call(f"dynamodb:{operation}", f"table {self.name} walk position")

    def load(self) -> tuple[WalkPosition | None, int]:
        """The last position written (finished or not) and the item's `seq` (0: no item). A position
        that cannot be read (an older ikr's) comes back as None with its seq: the walk starts afresh,
        which repeats nothing a finished run did, and may still write over it."""
        with self._call("GetItem"):
            raw = self._db.get_item(TableName=self.name, Key=_key(), ConsistentRead=True).get("Item")
        if raw is None:
            return None, 0
        try:
            seq = int(raw["seq"]["N"])
        except (KeyError, ValueError):
            return None, 0
        try:
            return WalkPosition.model_validate_json(raw["position"]["S"]).model_copy(update={"seq": seq}), seq
        except (KeyError, ValueError, ValidationError):
            return None, seq

    def save(self, position: WalkPosition) -> WalkPosition:
        """Write `position` if nobody wrote since it was read (its `seq`); the written one comes back.
        Raises WalkTaken when another invocation wrote first."""
        written = position.model_copy(update={"seq": position.seq + 1})
        seen = {":seen": {"N": str(position.seq)}}
        condition: dict[str, Any] = (
            {"ConditionExpression": "attribute_not_exists(seq)"}
            if position.seq == 0
            else {"ConditionExpression": "seq = :seen", "ExpressionAttributeValues": seen}
        )
        item = {
            **_key(),
            "seq": {"N": str(written.seq)},
            "run_id": {"S": written.run_id},
            "finished": {"BOOL": written.finished},
            "position": {"S": written.model_dump_json(exclude={"seq"})},
        }
        try:
            with self._call("PutItem"):
                self._db.put_item(TableName=self.name, Item=item, **condition)
        except AwsConditionFailed as exc:
            raise WalkTaken(f"run {position.run_id}: another invocation took the walk over") from exc
        return written


def age_hours(position: WalkPosition, now: datetime) -> float:
    return (now - position.started_at).total_seconds() / 3600


def _key() -> dict[str, Any]:
    return {"account_id": {"S": PARTITION}, "item_key": {"S": SORT_KEY}}
