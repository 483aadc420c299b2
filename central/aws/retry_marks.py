"""Due retries in the expiry table: what the frequent retry run looks for, found with one Query.

The table's sparse global secondary index `due-retries` (partition `retry_queue`, always "due";
sort `retry_at`, epoch seconds) holds only what waits for a retry, so "what is due now" is one Query
(`retry_queue = "due" AND retry_at <= now`), whatever the size of the table or the Organization:

- a failed destruction put back RETRY_AFTER_MINS later: the expiry item itself, whose index
  attributes `ExpiryItem.to_item` derives at every write (`central.aws.expiry_item`);
- an account with a postponed rotation (a delivery refused or uncertain, a re-delivery that failed,
  a key whose creation is uncertain): one mark per account at `item_key` "#retry" (IAM user names
  cannot hold "#"), holding the account's scope as the run had it (`scope`, opaque JSON here), so the
  retry run needs no Organizations call. The mark is only a hint: the journal and the user's keys
  stay the truth, and the daily run finds the same users without it.

A mark is claimed by one retry run (conditional on the `retry_at` it read; the claim moves
`retry_at` on and counts `passes`), released by the run that claimed it once the account's pass
postponed nothing new, and written again (claim cleared) by every postponement.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from central.aws.errors import AwsConditionFailed, aws_call
from central.aws.expiry_item import (
    RETRY_AT_ATTRIBUTE,
    RETRY_INDEX,
    RETRY_QUEUE,
    RETRY_QUEUE_ATTRIBUTE,
    ExpiryItem,
    State,
)
from central.domain.errors import InvalidItemError, SettingsError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeDefinitionTypeDef, GlobalSecondaryIndexTypeDef

logger = Logger(service="ikr")

MARK_KEY = "#retry"  # the sort key of an account's retry mark; never a user's (`<user>#<key id>`)

# What `ExpiryTable.create` and the central template give the table for the index.
INDEX_ATTRIBUTES: list[AttributeDefinitionTypeDef] = [
    {"AttributeName": RETRY_QUEUE_ATTRIBUTE, "AttributeType": "S"},
    {"AttributeName": RETRY_AT_ATTRIBUTE, "AttributeType": "N"},
]
INDEX: GlobalSecondaryIndexTypeDef = {
    "IndexName": RETRY_INDEX,
    "KeySchema": [
        {"AttributeName": RETRY_QUEUE_ATTRIBUTE, "KeyType": "HASH"},
        {"AttributeName": RETRY_AT_ATTRIBUTE, "KeyType": "RANGE"},
    ],
    "Projection": {"ProjectionType": "ALL"},
}


def is_mark(raw: dict[str, Any]) -> bool:
    """A retry mark (DynamoDB form, or a stream image as plain values): no expiry item."""
    key = raw.get("item_key")
    return key in ({"S": MARK_KEY}, MARK_KEY)


@dataclass(frozen=True)
class RetryMark:
    """An account whose rotation was postponed: due at `retry_at`, its scope as the run had it."""

    account_id: str
    retry_at: int
    scope: str  # JSON written and read by the rotation (`central.rotation.postpone`)
    reason: str = ""
    passes: int = 0  # retry passes over the account since the postponement
    claimed_by: str | None = None

    @classmethod
    def from_item(cls, raw: dict[str, Any]) -> RetryMark:
        try:
            return cls(
                account_id=raw["account_id"]["S"],
                retry_at=int(raw[RETRY_AT_ATTRIBUTE]["N"]),
                scope=raw["scope"]["S"],
                reason=raw.get("reason", {}).get("S", ""),
                passes=int(raw.get("passes", {}).get("N", "0")),
                claimed_by=raw.get("claimed_by", {}).get("S"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            account = raw.get("account_id", {}).get("S", "?") if isinstance(raw.get("account_id"), dict) else "?"
            raise InvalidItemError(f"retry mark of account {account} is not usable ({exc!r})") from None


@dataclass(frozen=True)
class DueRetries:
    """What the index says is due: failed destructions to hand to the destructor again, and accounts
    whose postponed rotations the account's pass takes up again."""

    items: tuple[ExpiryItem, ...] = ()
    marks: tuple[RetryMark, ...] = ()


class RetryMarks:
    """The index's reads and the marks' writes; failures as `AwsError` naming the table and account."""

    def __init__(self, dynamodb: DynamoDBClient, table_name: str) -> None:
        self._db = dynamodb
        self.name = table_name

    def _call(self, operation: str, account_id: str | None = None) -> AbstractContextManager[None]:
        where = f"table {self.name} index {RETRY_INDEX}" + (f" account {account_id}" if account_id else "")
        return aws_call(f"dynamodb:{operation}", where)

    # -- the retry run's one read ---------------------------------------------------------------------
    def due(self, now: int) -> DueRetries:
        """Everything due at `now`: one Query (one more a megabyte of results, which nothing due never
        reaches). A table made before the index says how to add it."""
        with self._call("Query"):
            return self._due(now)

    def _due(self, now: int) -> DueRetries:
        items: list[ExpiryItem] = []
        marks: list[RetryMark] = []
        for raw in self._pages(now):
            try:
                if is_mark(raw):
                    marks.append(RetryMark.from_item(raw))
                elif raw.get("state") == {"S": State.SCHEDULED.value}:
                    items.append(ExpiryItem.from_item(raw))
            except InvalidItemError as exc:
                logger.error("due retry ignored", extra={"reason": str(exc)})  # one bad entry never stops the run
        return DueRetries(tuple(items), tuple(marks))

    def _pages(self, now: int) -> Iterator[dict[str, Any]]:
        request: dict[str, Any] = {
            "TableName": self.name,
            "IndexName": RETRY_INDEX,
            "KeyConditionExpression": "#q = :q AND #r <= :now",
            "ExpressionAttributeNames": {"#q": RETRY_QUEUE_ATTRIBUTE, "#r": RETRY_AT_ATTRIBUTE},
            "ExpressionAttributeValues": {":q": {"S": RETRY_QUEUE}, ":now": {"N": str(now)}},
        }
        while True:
            try:
                page = self._db.query(**request)
            except ClientError as exc:
                missing = _missing(self._db, exc, self.name)
                if missing is None:
                    raise
                raise missing from None
            yield from page["Items"]
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # -- an account's mark ---------------------------------------------------------------------------
    def mark(self, account_id: str, retry_at: int, scope: str, reason: str) -> None:
        """Postpone the account's rotation to `retry_at` (a later postponement moves it on); any
        claim is cleared, so the run that claimed the mark leaves it for the next retry."""
        with self._call("UpdateItem", account_id):
            self._db.update_item(
                TableName=self.name,
                Key=self._key(account_id),
                UpdateExpression="SET #q = :q, #r = :at, #s = :scope, #why = :why REMOVE claimed_by",
                ExpressionAttributeNames={
                    "#q": RETRY_QUEUE_ATTRIBUTE,
                    "#r": RETRY_AT_ATTRIBUTE,
                    "#s": "scope",
                    "#why": "reason",
                },
                ExpressionAttributeValues={
                    ":q": {"S": RETRY_QUEUE},
                    ":at": {"N": str(retry_at)},
                    ":scope": {"S": scope},
                    ":why": {"S": reason[:500]},
                },
            )

    def claim(self, mark: RetryMark, owner: str, next_at: int) -> bool:
        """Take the mark for one retry pass (only one run can): it moves to `next_at`, so a pass that
        dies is retried then; False when another run claimed or moved it first."""
        try:
            with self._call("UpdateItem", mark.account_id):
                self._db.update_item(
                    TableName=self.name,
                    Key=self._key(mark.account_id),
                    UpdateExpression="SET #r = :next, claimed_by = :owner ADD passes :one",
                    ConditionExpression="#r = :seen",
                    ExpressionAttributeNames={"#r": RETRY_AT_ATTRIBUTE},
                    ExpressionAttributeValues={
                        ":next": {"N": str(next_at)},
                        ":owner": {"S": owner},
                        ":one": {"N": "1"},
                        ":seen": {"N": str(mark.retry_at)},
                    },
                )
        except AwsConditionFailed:
            return False
        return True

    def release(self, account_id: str, owner: str) -> None:
        """Remove the mark this run claimed; one written since (a new postponement) stays."""
        with contextlib.suppress(AwsConditionFailed), self._call("DeleteItem", account_id):
            self._db.delete_item(
                TableName=self.name,
                Key=self._key(account_id),
                ConditionExpression="claimed_by = :owner",
                ExpressionAttributeValues={":owner": {"S": owner}},
            )

    def _key(self, account_id: str) -> dict[str, Any]:
        return {"account_id": {"S": account_id}, "item_key": {"S": MARK_KEY}}


def _missing(db: DynamoDBClient, exc: ClientError, table: str) -> SettingsError | None:
    """The table or its index missing is a setting to fix (exit code 2), said so; None for the rest.
    AWS answers a missing index with a ValidationException, moto with ResourceNotFoundException: a
    DescribeTable, on this failure path only, tells which is missing."""
    error = exc.response.get("Error", {})
    code, message = error.get("Code", ""), error.get("Message", "")
    if code != "ResourceNotFoundException" and not (code == "ValidationException" and "index" in message.lower()):
        return None
    try:
        db.describe_table(TableName=table)
    except ClientError:
        return SettingsError(
            f"expiry table {table} does not exist here: run `ikr bootstrap`, or set IAM_KEY_ROTATOR_TABLE to the "
            "table of your central stack"
        )
    return SettingsError(
        f"expiry table {table} has no {RETRY_INDEX} index: run `ikr bootstrap` (or update the central stack) to add it"
    )
