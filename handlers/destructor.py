"""Destructor on the expiry table's stream: REMOVE records of scheduled items delete old keys.

Malformed records are logged with their position and dropped before Powertools sees the batch
(central/aws/expiry_stream.py); the partial batch response names only records whose destruction
failed in a way a retry may mend. Each record is answered once however often it is delivered: its
eventID goes with every write the destructor makes for it (see `central.retirement.destroy`).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from central.aws.expiry_stream import removed_by_ttl, removed_item, screen
from central.retirement.destroy import OUTCOME_METRICS, DestroyContext, destroy
from central.settings import load_settings
from central.wiring import build_services

logger = Logger(service="ikr")
metrics = Metrics(namespace="ikr", service="destructor")


def record_handler(record: DynamoDBRecord, ctx: DestroyContext, position: int | None = None) -> None:
    item = removed_item(record, position)
    if item is None:
        return  # nothing to act on, or malformed (logged): retrying cannot mend it
    result = destroy(ctx, item, removed_by_ttl=removed_by_ttl(record), event_id=record.event_id)
    metric = OUTCOME_METRICS.get(result.outcome)
    if metric:
        metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
    if result.reminded:
        metrics.add_metric(name="LastUseReminders", unit=MetricUnit.Count, value=1)


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if not isinstance(event, dict) or not isinstance(event.get("Records"), list):
        logger.error("not a DynamoDB Streams event; nothing done", extra={"event_type": type(event).__name__})
        return {"batchItemFailures": []}
    # Settings first: a misconfigured function fails every invocation loudly, even an empty one.
    ctx = DestroyContext.from_services(build_services(load_settings(), purpose="destroy"))
    positions = screen(event["Records"])  # by sequence number; the malformed ones are logged and left out
    if not positions:
        return {"batchItemFailures": []}  # Powertools refuses an empty batch
    records = [event["Records"][position] for position in positions.values()]
    # One per invocation: a processor keeps its batch's state, and invocations may overlap in one
    # process (tests running two at once). A batch whose every record failed is answered, not
    # raised: each failure was already logged.
    processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)
    response = process_partial_response(
        event={**event, "Records": records},
        record_handler=lambda record: record_handler(record, ctx, positions[record.dynamodb.sequence_number]),
        processor=processor,
        context=context,
    )
    return dict(response)
