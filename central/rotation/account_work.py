"""One account message of the fan-out, worked by the account worker Lambda.

A message is one account, or the next part of one. `work_on` raises `RetryLater` only when the
account failed in a way a later delivery may not meet (throttled past every retry, AWS unreachable,
or its rest could not be queued); everything else is final for this run, as in a run in process. A
record that is not an account message (not a map, no `messageId` or `body`, a body that is not one,
absurd numbers such as a `now` in the year 9999 or 10^20 days) is logged with its position in the
batch, its message id and the reason, and counted (`MessagesRejected`), never retried: a retry
cannot mend it. `screen` leaves out, before Powertools sees the batch, the records it could not
carry (it needs a map with a `messageId` to name a failure). When the invocation's remaining time
runs low no new user is started; the rest of the account goes back to the queue as its next part.
Work done twice is safe: the journal resumes an interrupted user, rotated users show pending,
not-due ones are skipped again.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import ValidationError

from central.aws.errors import AwsError
from central.collaborators import Services
from central.domain.model import json_kind
from central.domain.results import AccountResult, AccountStatus
from central.notify.run_notices import USER_METRICS
from central.rotation.account_queue import AccountMessage, AccountQueue
from central.rotation.run import failed_run, run_account, scope_of, state_row

logger = Logger(service="ikr")

# No new user is started with less than this left. One rotation takes about a second, but a throttled
# call backs off for up to 20 s a retry (botocore's standard mode) and several may follow; a minute
# lets the user under way finish and its journal be written before Lambda stops the process (were it
# stopped anyway, the journal resumes that user on the next pass).
STOP_WITH_MS_LEFT = 60_000
# Passes over one account in one run before the worker gives up on it until the next run: each pass
# starts at least one user, unless the scan alone outlasts an invocation, which this bounds.
MAX_PARTS = 20


class RetryLater(Exception):
    """The account failed for a reason a later delivery may not meet: SQS hands the message again."""


def screen(records: list[Any], counts: Counter[str]) -> dict[str, int]:
    """The records Powertools can carry, as their position in the batch by message id.

    Each other one is logged with its position and the reason, counted, and dropped.
    """
    kept: dict[str, int] = {}
    for position, record in enumerate(records):
        reason = _malformed(record, kept)
        if reason is None:
            kept[record["messageId"]] = position
        else:
            message_id = record.get("messageId") if isinstance(record, dict) else None
            _reject(message_id, position, reason, counts)
    return kept


def _malformed(record: Any, kept: dict[str, int]) -> str | None:
    if not isinstance(record, dict):
        return f"{json_kind(record)}, not an SQS record"
    message_id = record.get("messageId")
    if not isinstance(message_id, str) or not message_id:
        return "no messageId: a failure could not be named for a retry"
    if message_id in kept:
        return f"messageId {message_id} repeats that of record {kept[message_id]} of the batch"
    if not isinstance(record.get("body"), str):
        return "no body"
    return None


def _reject(message_id: object, position: int | None, reason: str, counts: Counter[str]) -> None:
    logger.error(
        "not an account message; dropped", extra={"message_id": message_id, "position": position, "reason": reason}
    )
    counts["MessagesRejected"] += 1


def work_on(
    body: str,
    message_id: str,
    services: Services,
    queue: AccountQueue | None,
    keep_going: Callable[[], bool],
    counts: Counter[str],
    position: int | None = None,
) -> None:
    """One message: one account, or the next part of one. Raises RetryLater to have SQS deliver it again."""
    try:
        message = AccountMessage.model_validate_json(body)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']}"
            for error in exc.errors(include_url=False, include_input=False)
        )
        _reject(message_id, position, problems, counts)
        return
    account_id = message.account.id
    if message.part > MAX_PARTS:
        logger.error("account left to the next run: too many passes", account_id=account_id, part=message.part)
        counts["AccountsFailed"] += 1
        return
    if not keep_going():
        _queue_rest(message, queue, message_id, counts)  # nothing started: the whole account is the rest
        return
    if message.needs_scope:
        try:
            scoped = _scoped(message, services, counts)
        except TagsNotRead as exc:
            # Organizations' limits are shared by the whole Organization: a read throttled past every
            # retry goes to the back of the queue as the account's next part (bounded by MAX_PARTS),
            # not back to SQS as a failed receive, which would count towards the dead-letter queue.
            logger.warning("account's own tags not read; the account goes back to the queue", reason=str(exc))
            _queue_rest(message, queue, message_id, counts)
            return
        if scoped is None:
            return
        message = scoped
    # The clock is read again: a message redriven or worked days late decides and schedules for now,
    # never for the instant it was sent (which would put deletions in the past).
    done = run_account(services, dataclasses.replace(message.work(), now=services.clock()), keep_going)
    _count(done.result, counts)
    if done.left:
        _queue_rest(message, queue, message_id, counts)
    elif done.result.status is AccountStatus.FAILED and done.passing:
        raise RetryLater(done.result.detail)


class TagsNotRead(Exception):
    """The account's own tags could not be read for a reason a later attempt may not meet (throttled
    past every retry, Organizations unreachable)."""


def _scoped(message: AccountMessage, services: Services, counts: Counter[str]) -> AccountMessage | None:
    """The message with the account's policy resolved from its own tags (read here, one Organizations
    call) and its OUs' tags (in the message); None when the account is not worked (a state ikr does not
    know, or its tags could not be read for good, e.g. access denied: its row is logged and counted).
    Raises TagsNotRead when the read failed in a way a later attempt may not meet."""
    account = message.account
    row = state_row(account)
    if row is None:
        try:
            return message.resolved(scope_of(services, account, standalone=False))
        except AwsError as exc:
            if exc.retryable:
                raise TagsNotRead(f"account {account.id}: {exc.reason}") from exc
            row = failed_run(account, exc).result
    _count(row, counts)
    return None


def _queue_rest(message: AccountMessage, queue: AccountQueue | None, message_id: str, counts: Counter[str]) -> None:
    if queue is None:
        raise RetryLater(f"account {message.account.id}: time ran low and IKR_ACCOUNT_QUEUE_URL is not set")
    failures = queue.send([message.next_part()])
    if failures:
        raise RetryLater(f"account {message.account.id}: could not queue its rest: {failures[0].reason}")
    logger.info(
        "rest of the account queued", account_id=message.account.id, part=message.part + 1, message_id=message_id
    )
    counts["AccountsRequeued"] += 1


def _count(row: AccountResult, counts: Counter[str]) -> None:
    if row.status is AccountStatus.NOT_OPTED_IN:
        # Decided here since the account's own tags are read here (message version 3): not worked.
        logger.info("account not opted in", account_id=row.account_id, reason=row.detail)
        counts["AccountsNotOptedIn"] += 1
        return
    counts["AccountsWorked"] += 1
    counts["AccountsFailed"] += int(row.failed)
    for outcome, name in USER_METRICS.items():
        counts[name] += row.count(outcome)


def work_batch(
    event: dict[str, Any],
    context: Any,
    services: Services,
    queue: AccountQueue | None,
    keep_going: Callable[[], bool],
    counts: Counter[str],
) -> dict[str, Any]:
    """One SQS batch of account messages: screened, worked, answered with a partial batch response
    naming only the records a later delivery may mend; what happened is added to `counts`."""
    positions = screen(event["Records"], counts)  # by message id; the malformed ones are logged and left out
    if not positions:
        return {"batchItemFailures": []}  # Powertools refuses an empty batch

    def record_handler(record: SQSRecord) -> None:
        work_on(record.body, record.message_id, services, queue, keep_going, counts, positions[record.message_id])

    # One per batch: a processor keeps its batch's state. A batch whose every record failed is
    # answered, not raised: each failure was already logged.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    response = process_partial_response(
        event={**event, "Records": [event["Records"][position] for position in positions.values()]},
        record_handler=record_handler,
        processor=processor,
        context=context,
    )
    return dict(response)
