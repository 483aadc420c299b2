"""The expiry table's stream as the destructor reads it: which records carry an item to act on.

A record that cannot be one is logged with its position in the batch, its event id and the reason,
and dropped: Lambda retrying it could not mend it. Two checks, two places:

- `screen` runs before Powertools' BatchProcessor sees the batch: a record that is not a map, has
  no `eventName`, no `dynamodb` map, no `Keys` map or no `SequenceNumber` (the item identifier a
  partial batch response names), or repeats a sequence number of the batch, is left out. Powertools
  would otherwise fail it and then fail itself building the response;
- `removed_item` reads what is left: an unknown event name, an image that is not a map, a REMOVE
  without an old image, an item without what ikr needs or with an absurd number (`expires_at`
  1E+125, negative, NaN) is not acted on.

INSERT and MODIFY records are the journal's own writes and the destructor's put-backs. A record is
known again by its eventID (Lambda redelivers it unchanged); the destructor writes that id with its
answer, so a second delivery finishes at most what the first left undone.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)

from central.aws.expiry_item import ExpiryItem
from central.aws.reminders import is_reminder
from central.aws.retry_marks import is_mark
from central.domain.errors import InvalidItemError
from central.domain.model import json_kind

logger = Logger(service="ikr")
TTL_PRINCIPAL = "dynamodb.amazonaws.com"  # the userIdentity of a removal by DynamoDB's time-to-live
NOT_ACTED_ON = "stream record not acted on"


def screen(records: list[Any]) -> dict[str, int]:
    """The records Powertools can carry, as their position in the batch by sequence number.

    Each other record is logged with its position and the reason, and dropped.
    """
    kept: dict[str, int] = {}
    for position, record in enumerate(records):
        reason = _malformed(record, kept)
        if reason is None:
            kept[record["dynamodb"]["SequenceNumber"]] = position
        else:
            event_id = record.get("eventID") if isinstance(record, dict) else None
            logger.error(NOT_ACTED_ON, position=position, event_id=event_id, reason=reason)
    return kept


def _malformed(record: Any, kept: dict[str, int]) -> str | None:
    if not isinstance(record, dict):
        return f"{json_kind(record)}, not a stream record"
    dynamodb = record.get("dynamodb")
    sequence = dynamodb.get("SequenceNumber") if isinstance(dynamodb, dict) else None
    named = isinstance(sequence, str) and sequence != ""
    twice = f"SequenceNumber {sequence} repeats that of record {kept.get(str(sequence))} of the batch"
    checks = (
        (isinstance(record.get("eventName"), str), "no eventName"),
        (isinstance(dynamodb, dict), "no dynamodb map"),
        (isinstance(dynamodb, dict) and isinstance(dynamodb.get("Keys"), dict), "no dynamodb.Keys map"),
        (named, "no dynamodb.SequenceNumber: a failure could not be named for a retry"),
        (not named or sequence not in kept, twice),
        (isinstance(record.get("userIdentity", {}), dict | None), "userIdentity is not a map"),
    )
    return next((reason for passed, reason in checks if not passed), None)


def removed_item(record: DynamoDBRecord, position: int | None = None) -> ExpiryItem | None:
    """The removed item, or None (after an error log) when the record cannot be one ikr acts on."""
    where: dict[str, object] = {"event_id": record.event_id, "position": position}
    try:
        name = record.event_name
        image = record.dynamodb.old_image if record.dynamodb else None
    except (ValueError, TypeError, KeyError, AttributeError, ArithmeticError) as exc:
        # An unknown event name, an image that is not a map or a number Decimal cannot read
        # ({"N": "abc"}, {"N": "1E+999"}: decimal's errors are ArithmeticErrors): Powertools cannot read it.
        logger.error(NOT_ACTED_ON, extra={**where, "reason": f"unreadable record ({exc!r})"})
        return None
    if name is not DynamoDBRecordEventName.REMOVE:
        return None  # the journal's own writes, and put-backs
    if not image:
        logger.error(
            NOT_ACTED_ON,
            extra={**where, "reason": "REMOVE record without an old image: the stream must be NEW_AND_OLD_IMAGES"},
        )
        return None
    if is_mark(image) or is_reminder(image):
        # An account's retry mark taken back, a reminder record expired (TTL) or given back: no key behind it.
        return None
    try:
        return ExpiryItem.from_plain(image)
    except InvalidItemError as exc:
        logger.error(NOT_ACTED_ON, extra={**where, "reason": str(exc)})
        return None


def removed_by_ttl(record: DynamoDBRecord) -> bool:
    return (record.user_identity or {}).get("principalId") == TTL_PRINCIPAL
