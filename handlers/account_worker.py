"""Account worker on the account queue: each SQS message rotates one account (the fan-out on AWS).

Partial batch response: a record is reported in `batchItemFailures` (SQS delivers it again, and after
the queue's maxReceiveCount to the dead-letter queue) only when its account failed in a way a later
attempt may not meet: throttled past every retry, AWS unreachable, or its rest could not be queued.
Everything else is final for this run, as in a run in process: a refused role or a failed delivery
is the account's or user's row, log line and metric, and the next scheduled run tries again. A
record that is not an account message (not a map, no messageId or body, a body that is not one or
carries absurd numbers) is logged with its position in the batch, its message id and the reason,
and counted (`MessagesRejected`), never retried: a retry cannot mend it. Records Powertools could
not carry are left out of the batch before it sees them.

When the invocation's remaining time runs low the worker starts no new user; the rest of the
account goes back to the queue as the account's next part, a new message. Work done twice is safe:
the journal resumes an interrupted user, rotated users show pending, not-due ones are skipped again.
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

from central.invocations.account_worker import work_messages
from central.invocations.answer import emit
from central.settings import load_settings
from central.startup import settle_garbage_collector
from central.wiring import lambda_time_left, warm_services

logger = Logger(service="ikr")
metrics = Metrics(namespace="ikr", service="account-worker")
settle_garbage_collector()  # once per execution environment, after the imports


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if not isinstance(event, dict) or not isinstance(event.get("Records"), list):
        logger.error("not an SQS event; nothing done", extra={"event_type": type(event).__name__})
        return {"batchItemFailures": []}
    services = warm_services(load_settings(), purpose="rotate", time_left=lambda_time_left(context))
    counts: Counter[str] = Counter()
    try:
        return dict(work_messages(services, event, context, counts))
    finally:
        emit(metrics, counts)
