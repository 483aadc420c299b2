"""Reminders sent: one record per (account, user, key) in the expiry table, so a user is reminded
once per key (REMIND_BEFORE_DAYS, `central.rotation.remind`), also across overlapping runs and
redelivered account messages.

The record lives in the account's own partition, so the run's one Query of the account's items
(`ExpiryTable.account_records`) brings it at no extra call, at sort key `#remind#<user>#<key id>`
(IAM user names cannot hold "#": no rotation item ever has such a key). It carries no `state`, so
it is never taken for a rotation: the sweep's scan filters on `state`, the journal and the report
skip it by its key (`is_reminder`), it is never in the due-retries index, and its removal (TTL,
`expires_at`, some weeks after the key's due date; or a claim given back) reaches the destructor's
stream as a REMOVE that `central.aws.expiry_stream` drops. No secret is ever part of it.

Claim before the mail, mark sent after it: a conditional PutItem lets one run of any number at once
claim the key's reminder; a claim whose run died before marking it sent is taken over after the
lease time, so a person may get a reminder twice (a crash between the mail and the mark), never none.
"""

from __future__ import annotations

import contextlib
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from central.aws.errors import AwsConditionFailed, aws_call
from central.aws.expiry_item import from_epoch
from central.domain.bounds import MAX_EPOCH

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

logger = Logger(service="ikr")

KEY_PREFIX = "#remind#"
KIND = "reminder"

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def is_reminder(raw: dict[str, Any]) -> bool:
    """A reminder record (DynamoDB form, or a stream image as plain values): no expiry item."""
    key = raw.get("item_key")
    text = key.get("S") if isinstance(key, dict) else key
    return isinstance(text, str) and text.startswith(KEY_PREFIX)


class Reminder(BaseModel):
    """The reminder of one key: claimed by a run, then sent."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    account_id: str
    user_name: str
    key_id: str
    key_created: int = Field(ge=0, le=MAX_EPOCH)  # epoch seconds: the credential report names keys by it
    due_at: int = Field(ge=0, le=MAX_EPOCH)  # when the key is due, as the reminder said
    claimed_by: str
    claimed_at: int = Field(ge=0, le=MAX_EPOCH)
    sent_at: int | None = Field(None, ge=0, le=MAX_EPOCH)  # None: claimed, the mail not (known to be) out
    channel: str = ""  # where the reminder went, in words ("mail to a@example.com")
    expires_at: int = Field(ge=0, le=MAX_EPOCH)  # the TTL attribute: some weeks after the due date

    @field_validator("key_created", "due_at", "claimed_at", "sent_at", "expires_at", mode="before")
    @classmethod
    def _whole(cls, value: Any) -> Any:
        return int(value) if value is not None and not isinstance(value, bool | str) else value

    @property
    def item_key(self) -> str:
        return f"{KEY_PREFIX}{self.user_name}#{self.key_id}"

    @property
    def sent(self) -> datetime | None:
        return from_epoch(self.sent_at) if self.sent_at is not None else None

    def to_item(self) -> dict[str, Any]:
        plain = self.model_dump(exclude_none=True)
        plain.update(item_key=self.item_key, kind=KIND)
        return {key: _serializer.serialize(value) for key, value in plain.items()}

    @classmethod
    def from_item(cls, raw: dict[str, Any]) -> Reminder | None:
        """The record, or None (after an error log) when it cannot be read: one bad record never stops a run."""
        try:
            return cls.model_validate({key: _deserializer.deserialize(value) for key, value in raw.items()})
        except (ValidationError, TypeError, ValueError, ArithmeticError) as exc:
            logger.error("reminder record ignored", extra={"item_key": str(raw.get("item_key")), "reason": repr(exc)})
            return None


class Reminders:
    """The records' writes; failures as `AwsError` naming the table, account, user and key."""

    def __init__(self, dynamodb: DynamoDBClient, table_name: str) -> None:
        self._db = dynamodb
        self.name = table_name

    def _call(self, operation: str, record: Reminder) -> AbstractContextManager[None]:
        where = f"table {self.name} reminder of account {record.account_id} user {record.user_name} key {record.key_id}"
        return aws_call(f"dynamodb:{operation}", where)

    def claim(self, record: Reminder, stale_before: int) -> bool:
        """Write the claim unless the key's reminder was sent or is claimed by a run still in time
        (claimed at or after `stale_before`); False when another run has it."""
        try:
            with self._call("PutItem", record):
                self._db.put_item(
                    TableName=self.name,
                    Item=record.to_item(),
                    ConditionExpression="attribute_not_exists(item_key) OR "
                    "(attribute_not_exists(sent_at) AND claimed_at < :stale)",
                    ExpressionAttributeValues={":stale": {"N": str(stale_before)}},
                )
        except AwsConditionFailed:
            return False
        return True

    def mark_sent(self, record: Reminder, sent_at: int, channel: str) -> Reminder:
        """Record the reminder as sent. A claim taken over meanwhile (this run paused past the lease)
        is left to its new owner: both runs sent, which is the duplicate the claim's design accepts."""
        done = record.model_copy(update={"sent_at": sent_at, "channel": channel})
        with contextlib.suppress(AwsConditionFailed), self._call("UpdateItem", record):
            self._db.update_item(
                TableName=self.name,
                Key=self._key(record),
                UpdateExpression="SET sent_at = :at, channel = :channel",
                ConditionExpression="claimed_by = :owner",
                ExpressionAttributeValues={
                    ":at": {"N": str(sent_at)},
                    ":channel": {"S": channel[:500]},
                    ":owner": {"S": record.claimed_by},
                },
            )
        return done

    def release(self, record: Reminder) -> None:
        """Give the claim back (the mail did not go): the next run reminds the user again."""
        with contextlib.suppress(AwsConditionFailed), self._call("DeleteItem", record):
            self._db.delete_item(
                TableName=self.name,
                Key=self._key(record),
                ConditionExpression="claimed_by = :owner AND attribute_not_exists(sent_at)",
                ExpressionAttributeValues={":owner": {"S": record.claimed_by}},
            )

    def _key(self, record: Reminder) -> dict[str, Any]:
        return {"account_id": {"S": record.account_id}, "item_key": {"S": record.item_key}}
