"""One batch of the expiry table's stream: the destructor Lambda's work, and `ikr stream-pump`'s.

Malformed records are logged with their position and dropped before Powertools sees the batch
(`central.aws.expiry_stream.screen`); the partial batch response names only records whose
destruction failed in a way a retry may mend. Each record is answered once however often it is
delivered: its eventID goes with every write the destructor makes for it (see
`central.retirement.destroy`). Outcomes are counted by their CloudWatch metric name; the entry
point emits the counts.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from central.aws.errors import reason_of
from central.aws.expiry_stream import removed_by_ttl, removed_item, screen
from central.domain.errors import IkrError
from central.retirement.destroy import OUTCOME_METRICS, DestroyContext, destroy

logger = Logger(service="ikr")


def destroy_record(record: DynamoDBRecord, ctx: DestroyContext, counts: Counter[str], position: int | None) -> None:
    item = removed_item(record, position)
    if item is None:
        return  # nothing to act on, or malformed (logged): retrying cannot mend it
    try:
        result = destroy(ctx, item, removed_by_ttl=removed_by_ttl(record), event_id=record.event_id)
    except IkrError as exc:
        # The answer could not be written (the table throttled or failed): the record is reported
        # failed and comes again. Said here once, naming the key, as Powertools logs it at DEBUG only.
        logger.warning(
            f"{item.where}: old key not handled yet, the record comes again: {reason_of(exc)}",
            extra={"account_id": item.account_id, "user": item.user_name, "old_key_id": item.old_key_id},
        )
        raise
    metric = OUTCOME_METRICS.get(result.outcome)
    if metric:
        counts[metric] += 1
    if result.reminded:
        counts["LastUseReminders"] += 1


def destroy_batch(event: dict[str, Any], context: Any, ctx: DestroyContext, counts: Counter[str]) -> dict[str, Any]:
    """A DynamoDB Streams event (a dict with a `Records` list) → its partial batch response."""
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
        record_handler=lambda record: destroy_record(record, ctx, counts, positions[record.dynamodb.sequence_number]),
        processor=processor,
        context=context,
    )
    return dict(response)
