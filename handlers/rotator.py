"""Scheduled rotator: discovery, sweep of overdue expiry items, then every opted-in account: rotated
in process, or, with IKR_ACCOUNT_QUEUE_URL set, one message per account to the account worker's queue
as the Organization's pages arrive. A fan-out run that nears the function's timeout saves where its
walk stands and invokes the function again to go on (`central.rotation.continuation`).

The retry schedule invokes the same function every RETRY_AFTER_MINS with `{"ikr": "retry"}`: the
retry run (`central.rotation.retry`), one DynamoDB Query when nothing is due. Same role, same
settings: it does a subset of what the daily run does.

An administrator's `{"ikr": "rotate", "account": ..., "user": ..., "reason": ...}` and AWS Health's
AWS_RISK_CREDENTIALS_EXPOSED events (forwarded by the member accounts' rule) ask for work now:
`central.rotation.on_demand_event`."""

from __future__ import annotations

import gc

# No automatic collection while the imports below build their objects: each would walk everything
# imported so far again and again (~10% of a cold start). settle_garbage_collector() turns it back on.
gc.disable()

from typing import Any

# Before anything imports pydantic: Powertools' batch utility (the account worker's, which this
# function shares modules with) then skips loading its parser models at a cold start.
import aws_lambda_powertools.utilities.batch  # noqa: F401
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from central.domain.rotator_events import RETRY_EVENT
from central.invocations.answer import emit
from central.invocations.rotator import rotator_event
from central.settings import load_settings
from central.startup import settle_garbage_collector
from central.wiring import lambda_time_left, warm_services

logger = Logger(service="ikr")
metrics = Metrics(namespace="ikr", service="rotator")
settle_garbage_collector()  # once per execution environment, after the imports
__all__ = ["RETRY_EVENT", "handler"]


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Each kind of event to its use case (`central.invocations.rotator`); its counts as metrics."""
    services = warm_services(load_settings(), purpose="rotate", time_left=lambda_time_left(context))
    answer = rotator_event(services, event, context)
    emit(metrics, answer.metrics)
    return answer.body
