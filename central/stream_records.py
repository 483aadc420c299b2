"""The expiry table's stream as the destructor reads it: which records carry an item to act on.

A record that cannot be one (an unknown event name, an image that is not a map, no old image, an
item without what ikr needs) is logged with its event id and dropped: Lambda retrying it could not
mend it. INSERT and MODIFY records are the journal's own writes and the destructor's put-backs.
A record is known again by its eventID (Lambda redelivers it unchanged); the destructor writes that
id with its answer, so a second delivery finishes at most what the first left undone.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)

from central.errors import InvalidItemError
from central.expiry_table import ExpiryItem

logger = Logger(service="ikr")
TTL_PRINCIPAL = "dynamodb.amazonaws.com"  # the userIdentity of a removal by DynamoDB's time-to-live


def removed_item(record: DynamoDBRecord) -> ExpiryItem | None:
    """The removed item, or None (after an error log) when the record cannot be one ikr acts on."""
    try:
        name = record.event_name
        image = record.dynamodb.old_image if record.dynamodb else None
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        # An unknown event name or an image that is not a map: Powertools cannot read it.
        logger.error("stream record not acted on", event_id=record.event_id, reason=f"unreadable record ({exc!r})")
        return None
    if name is not DynamoDBRecordEventName.REMOVE:
        return None  # the journal's own writes, and put-backs
    if not image:
        logger.error(
            "stream record not acted on",
            event_id=record.event_id,
            reason="REMOVE record without an old image: the stream must be NEW_AND_OLD_IMAGES",
        )
        return None
    try:
        return ExpiryItem.from_plain(image)
    except InvalidItemError as exc:
        logger.error("stream record not acted on", event_id=record.event_id, reason=str(exc))
        return None


def removed_by_ttl(record: DynamoDBRecord) -> bool:
    return (record.user_identity or {}).get("principalId") == TTL_PRINCIPAL
