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

from typing import Any

# Before anything imports pydantic: Powertools' batch utility (the account worker's, which this
# function shares modules with) then skips loading its parser models at a cold start.
import aws_lambda_powertools.utilities.batch  # noqa: F401
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from central.aws import clients as aws
from central.aws.walk_position import WalkPositions
from central.notify.run_notices import notify_failures, run_metrics, tell_the_run
from central.retirement.restore import RESTORE_EVENT, restore_from_event
from central.rotation.account_queue import AccountQueue
from central.rotation.account_work import STOP_WITH_MS_LEFT
from central.rotation.continuation import continuing, fan_out
from central.rotation.on_demand_event import answer, is_on_demand_event
from central.rotation.retry import run_retries
from central.rotation.run import run_rotation
from central.settings import Settings, load_settings
from central.startup import settle_garbage_collector
from central.wiring import lambda_time_left, warm_services

logger = Logger(service="ikr")
metrics = Metrics(namespace="ikr", service="rotator")
settle_garbage_collector()  # once per execution environment, after the imports
RETRY_EVENT = "retry"  # the retry schedule's constant input: {"ikr": "retry"}


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings: Settings = load_settings()
    services = warm_services(
        settings, purpose="rotate", time_left=lambda_time_left(context)
    )  # built once per execution environment
    if is_on_demand_event(event):  # `{"ikr": "rotate", ...}` or an AWS Health exposure
        metrics.add_metric(name="OnDemandEvents", unit=MetricUnit.Count, value=1)
        return answer(services, event)
    if isinstance(event, dict) and event.get("ikr") == RESTORE_EVENT:  # an administrator's `ikr restore`
        return restore_from_event(services, event, f"lambda:{context.function_name}/{context.aws_request_id}")
    if isinstance(event, dict) and event.get("ikr") == RETRY_EVENT:
        retried = run_retries(services, lambda: context.get_remaining_time_in_millis() > STOP_WITH_MS_LEFT)
        metrics.add_metric(name="RetriesHandedToDestructor", unit=MetricUnit.Count, value=retried.swept)
        metrics.add_metric(name="RetriedAccounts", unit=MetricUnit.Count, value=len(retried.accounts))
        # No summary notice: the daily run sends that; each failure here has its own log line and notice.
        return retried.model_dump(mode="json")
    if settings.IKR_ACCOUNT_QUEUE_URL:
        queued = fan_out(
            services,
            AccountQueue(aws.sqs(services.central), settings.IKR_ACCOUNT_QUEUE_URL),
            WalkPositions(aws.dynamodb(services.central), services.table.name),
            context,
            continuing(event),
        )
        metrics.add_metric(name="AccountsScanned", unit=MetricUnit.Count, value=queued.queued + len(queued.accounts))
        metrics.add_metric(name="AccountsQueued", unit=MetricUnit.Count, value=queued.queued)
        metrics.add_metric(
            name="AccountsFailed", unit=MetricUnit.Count, value=sum(1 for account in queued.accounts if account.failed)
        )
        metrics.add_metric(name="ExpiryItemsSwept", unit=MetricUnit.Count, value=queued.swept)
        return queued.model_dump(mode="json")
    result = run_rotation(services)
    for name, value in run_metrics(result).items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    notify_failures(services.admin, result)  # one notice for a run with failures
    tell_the_run(services.notifier, result)  # the webhook gets every run's summary
    return result.model_dump(mode="json")
