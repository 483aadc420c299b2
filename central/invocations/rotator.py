"""The rotator Lambda's events, each to its use case:

- an administrator's `{"ikr": "rotate", ...}` or AWS Health's exposed-key event: work now
  (`central.rotation.on_demand_event`);
- `{"ikr": "restore", ...}`: an administrator's `ikr restore` (`central.retirement.restore`);
- the retry schedule's `{"ikr": "retry"}`: the retry run, one DynamoDB Query when nothing is due;
- the daily schedule (or the function's own continuation, `{"ikr_continue_run": ...}`): with
  IKR_ACCOUNT_QUEUE_URL the fan-out, one message per account as the Organization's pages arrive,
  stopped in time and continued by invoking itself; without it the whole run in process.
"""

from __future__ import annotations

from typing import Any, Protocol

from central.aws import clients as aws
from central.aws.walk_position import WalkPositions
from central.collaborators import Services
from central.domain.rotator_events import RESTORE_EVENT, RETRY_EVENT, ikr_kind, is_on_demand_event
from central.invocations.answer import Answer
from central.notify.run_notices import notify_failures, run_metrics, tell_the_run
from central.rotation.account_queue import AccountQueue
from central.rotation.account_work import STOP_WITH_MS_LEFT
from central.rotation.continuation import continuing, fan_out
from central.rotation.run import run_rotation

# The use cases of the rarer events (on demand, restore, retry) are imported when such an event
# comes: the daily run's cold start does not load them.


class Context(Protocol):
    """What the rotator reads of its Lambda context."""

    @property
    def function_name(self) -> str: ...

    @property
    def aws_request_id(self) -> str: ...

    def get_remaining_time_in_millis(self) -> int: ...


def rotator_event(services: Services, event: Any, context: Context) -> Answer:
    if is_on_demand_event(event):
        from central.rotation.on_demand_event import answer  # noqa: PLC0415

        return Answer(answer(services, event), {"OnDemandEvents": 1})
    kind = ikr_kind(event)
    if kind == RESTORE_EVENT:
        from central.retirement.restore import restore_from_event  # noqa: PLC0415

        return Answer(restore_from_event(services, event, f"lambda:{context.function_name}/{context.aws_request_id}"))
    if kind == RETRY_EVENT:
        return retry(services, context)
    if services.settings.IKR_ACCOUNT_QUEUE_URL:
        return fan_out_run(services, event, context, services.settings.IKR_ACCOUNT_QUEUE_URL)
    return run_in_process(services)


def retry(services: Services, context: Context) -> Answer:
    from central.rotation.retry import run_retries  # noqa: PLC0415

    retried = run_retries(services, lambda: context.get_remaining_time_in_millis() > STOP_WITH_MS_LEFT)
    # No summary notice: the daily run sends that; each failure here has its own log line and notice.
    counts = {"RetriesHandedToDestructor": retried.swept, "RetriedAccounts": len(retried.accounts)}
    return Answer(retried.model_dump(mode="json"), counts)


def fan_out_run(services: Services, event: Any, context: Context, queue_url: str) -> Answer:
    queued = fan_out(
        services,
        AccountQueue(aws.sqs(services.central), queue_url),
        WalkPositions(aws.dynamodb(services.central), services.table.name),
        context,
        continuing(event),
    )
    counts = {
        "AccountsScanned": queued.queued + len(queued.accounts),
        "AccountsQueued": queued.queued,
        "AccountsFailed": sum(1 for account in queued.accounts if account.failed),
        "ExpiryItemsSwept": queued.swept,
    }
    return Answer(queued.model_dump(mode="json"), counts)


def run_in_process(services: Services) -> Answer:
    result = run_rotation(services)
    notify_failures(services.admin, result)  # one notice for a run with failures
    tell_the_run(services.notifier, result)  # the webhook gets every run's summary
    return Answer(result.model_dump(mode="json"), dict(run_metrics(result)))
