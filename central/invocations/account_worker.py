"""The account worker Lambda's SQS batch: each message one account of a fan-out run
(`central.rotation.account_work`); the rest of an account short of time goes back to the queue."""

from __future__ import annotations

from collections import Counter
from typing import Any

from central.aws import clients as aws
from central.collaborators import Services
from central.rotation.account_queue import AccountQueue
from central.rotation.account_work import STOP_WITH_MS_LEFT, work_batch
from central.rotation.continuation import LambdaContextLike


def work_messages(services: Services, event: dict[str, Any], context: LambdaContextLike, counts: Counter[str]) -> Any:
    """The batch's partial response; `counts` gathers the outcomes, also when the batch fails."""
    url = services.settings.IKR_ACCOUNT_QUEUE_URL
    queue = AccountQueue(aws.sqs(services.central), url) if url else None
    return work_batch(
        event, context, services, queue, lambda: context.get_remaining_time_in_millis() > STOP_WITH_MS_LEFT, counts
    )
