"""Destructor on the expiry table's stream: REMOVE records of scheduled items delete old keys."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from central.destruction import DestroyContext, Destroyed, destroy
from central.errors import InvalidItemError
from central.expiry_table import ExpiryItem
from central.services import build_services
from central.settings import load_settings

logger = Logger(service="ikr")
metrics = Metrics(namespace="ikr", service="destructor")
# A batch whose every record failed is answered, not raised: each failure was already logged.
processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)
_TTL_PRINCIPAL = "dynamodb.amazonaws.com"


def _old_item(record: DynamoDBRecord) -> ExpiryItem | None:
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


def record_handler(record: DynamoDBRecord, ctx: DestroyContext) -> None:
    item = _old_item(record)
    if item is None:
        return  # retrying cannot mend a malformed record; it was logged
    by_ttl = (record.user_identity or {}).get("principalId") == _TTL_PRINCIPAL
    result = destroy(ctx, item, removed_by_ttl=by_ttl)
    metric = _METRICS.get(result.outcome)
    if metric:
        metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
    if result.reminded:
        metrics.add_metric(name="LastUseReminders", unit=MetricUnit.Count, value=1)


_METRICS = {
    Destroyed.DELETED: "KeysDestroyed",
    Destroyed.ALREADY_GONE: "KeysDestroyed",
    Destroyed.DEACTIVATED: "KeysDeactivated",
    Destroyed.RETRY: "DestructionRetries",
    Destroyed.GAVE_UP: "DestructionsGivenUp",
    Destroyed.KEPT_ONLY_KEY: "OnlyKeysKept",
    Destroyed.TOO_EARLY: "ItemsPutBack",
    Destroyed.POSTPONED: "RetirementsPostponed",
}


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if not isinstance(event, dict) or not isinstance(event.get("Records"), list):
        logger.error("not a DynamoDB Streams event; nothing done", extra={"event_type": type(event).__name__})
        return {"batchItemFailures": []}
    ctx = DestroyContext.from_services(build_services(load_settings(), purpose="destroy"))
    response = process_partial_response(
        event=event, record_handler=lambda record: record_handler(record, ctx), processor=processor, context=context
    )
    return dict(response)
