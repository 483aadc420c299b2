"""Destructor on the expiry table's stream: REMOVE records of scheduled items delete old keys.

The batch is `central.retirement.stream_batch.destroy_batch`'s (screening, partial batch response);
this entry point checks the event's shape, wires the settings and emits the outcome counts.
"""

from __future__ import annotations

import gc

# No automatic collection while the imports below build their objects: each would walk everything
# imported so far again and again (~10% of a cold start). settle_garbage_collector() turns it back on.
gc.disable()

from collections import Counter
from typing import Any

# Before anything imports pydantic: Powertools' batch utility loads its parser models (about 150 ms
# of CPU at a cold start) only when pydantic is already imported, and ikr hands it no model.
import aws_lambda_powertools.utilities.batch  # noqa: F401
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from central.invocations.answer import emit
from central.retirement.destroy import DestroyContext
from central.retirement.stream_batch import destroy_batch
from central.settings import load_settings
from central.startup import settle_garbage_collector
from central.wiring import lambda_time_left, warm_services

logger = Logger(service="ikr")
metrics = Metrics(namespace="ikr", service="destructor")
settle_garbage_collector()  # once per execution environment, after the imports


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if not isinstance(event, dict) or not isinstance(event.get("Records"), list):
        logger.error("not a DynamoDB Streams event; nothing done", extra={"event_type": type(event).__name__})
        return {"batchItemFailures": []}
    # Settings first: a misconfigured function fails every invocation loudly, even an empty one.
    ctx = DestroyContext.from_services(
        warm_services(load_settings(), purpose="destroy", time_left=lambda_time_left(context))
    )
    counts: Counter[str] = Counter()
    try:
        return destroy_batch(event, context, ctx, counts)
    finally:
        emit(metrics, counts)
