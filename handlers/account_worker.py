"""Account worker on the account queue: each SQS message rotates one account (the fan-out on AWS).

Partial batch response: a record is reported in `batchItemFailures` (SQS delivers it again, and after
the queue's maxReceiveCount to the dead-letter queue) only when its account failed in a way a later
attempt may not meet: throttled past every retry, AWS unreachable, or its rest could not be queued.
Everything else is final for this run, as in a run in process: a refused role or a failed delivery
is the account's or user's row, log line and metric, and the next scheduled run tries again. A
message that is not an account message is logged with its message id and counted
(`MessagesRejected`), never retried: a retry cannot mend it.

When the invocation's remaining time runs low the worker starts no new user; the rest of the
account goes back to the queue as the account's next part, a new message. Work done twice is safe:
the journal resumes an interrupted user, rotated users show pending, not-due ones are skipped again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from central import aws
from central.account_queue import AccountMessage, AccountQueue
from central.results import AccountResult, AccountStatus, Outcome
from central.run import run_account
from central.services import Services, build_services
from central.settings import Settings, load_settings

logger = Logger(service="ikr")
metrics = Metrics(namespace="ikr", service="account-worker")
# A batch whose every record failed is answered, not raised: each failure was already logged.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

# No new user is started with less than this left. One rotation takes about a second, but a throttled
# call backs off for up to 20 s a retry (botocore's standard mode) and several may follow; a minute
# lets the user under way finish and its journal be written before Lambda stops the process (were it
# stopped anyway, the journal resumes that user on the next pass).
STOP_WITH_MS_LEFT = 60_000
# Passes over one account in one run before the worker gives up on it until the next run: each pass
# starts at least one user, unless the scan alone outlasts an invocation, which this bounds.
MAX_PARTS = 20
# The same user counts as the rotator emits when it rotates in process, plus pending.
_USER_METRICS = (Outcome.ROTATED, Outcome.NOT_DUE, Outcome.PENDING, Outcome.SKIPPED, Outcome.FAILED, Outcome.RECOVERED)


class RetryLater(Exception):
    """The account failed for a reason a later delivery may not meet: SQS hands the message again."""


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if not isinstance(event, dict) or not isinstance(event.get("Records"), list):
        logger.error("not an SQS event; nothing done", extra={"event_type": type(event).__name__})
        return {"batchItemFailures": []}
    settings: Settings = load_settings()
    services = build_services(settings, purpose="rotate")
    url = settings.IKR_ACCOUNT_QUEUE_URL
    queue = AccountQueue(aws.sqs(services.central), url) if url else None
    counts: Counter[str] = Counter()

    def keep_going() -> bool:
        return context.get_remaining_time_in_millis() > STOP_WITH_MS_LEFT

    def record_handler(record: SQSRecord) -> None:
        work_on(record, services, queue, keep_going, counts)

    try:
        response = process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    finally:
        for name, value in sorted(counts.items()):
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    return dict(response)


def work_on(
    record: SQSRecord,
    services: Services,
    queue: AccountQueue | None,
    keep_going: Callable[[], bool],
    counts: Counter[str],
) -> None:
    """One record: one account, or the next part of one. Raises RetryLater to have SQS deliver it again."""
    try:
        message = AccountMessage.model_validate_json(record.body)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']}"
            for error in exc.errors(include_url=False, include_input=False)
        )
        logger.error("not an account message; dropped", message_id=record.message_id, reason=problems)
        counts["MessagesRejected"] += 1
        return
    account_id = message.account.id
    if message.part > MAX_PARTS:
        logger.error("account left to the next run: too many passes", account_id=account_id, part=message.part)
        counts["AccountsFailed"] += 1
        return
    if not keep_going():
        _queue_rest(message, queue, record, counts)  # nothing started: the whole account is the rest
        return
    done = run_account(services, message.work(), keep_going)
    _count(done.result, counts)
    if done.left:
        _queue_rest(message, queue, record, counts)
    elif done.result.status is AccountStatus.FAILED and done.passing:
        raise RetryLater(done.result.detail)


def _queue_rest(message: AccountMessage, queue: AccountQueue | None, record: SQSRecord, counts: Counter[str]) -> None:
    if queue is None:
        raise RetryLater(f"account {message.account.id}: time ran low and IKR_ACCOUNT_QUEUE_URL is not set")
    failures = queue.send([message.next_part()])
    if failures:
        raise RetryLater(f"account {message.account.id}: could not queue its rest: {failures[0].reason}")
    logger.info(
        "rest of the account queued", account_id=message.account.id, part=message.part + 1, message_id=record.message_id
    )
    counts["AccountsRequeued"] += 1


def _count(row: AccountResult, counts: Counter[str]) -> None:
    counts["AccountsWorked"] += 1
    counts["AccountsFailed"] += int(row.failed)
    for outcome in _USER_METRICS:
        counts[f"Users{outcome.value.title().replace('-', '')}"] += row.count(outcome)
