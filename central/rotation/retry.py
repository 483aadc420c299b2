"""The retry run: every RETRY_AFTER_MINS, what waits for a retry is taken up again, found with one Query.

The daily run would find the same work, but only the next day. Here nothing is scanned: the
expiry table's due-retries index (`central.aws.retry_marks`) names exactly what is due, so a retry
run with nothing due costs one DynamoDB Query and nothing else (no Organizations call, no AssumeRole,
no table scan, no secret read). What is due goes through the same use cases as in the daily run:

- a failed destruction put back RETRY_AFTER_MINS ago is removed from the table as the daily sweep
  removes it (`swept_at` first), and the table's stream hands it to the destructor, which decides
  and retries exactly as it does for the sweep's and TTL's removals;
- an account with a postponed rotation (delivery refused or uncertain, re-delivery failed,
  CreateAccessKey uncertain) is worked by `run_account`, the daily run's pass over one account,
  with the scope its mark holds: interrupted rotations are resumed under their lease, due users
  rotated, each delivered and journalled as always.

A mark is claimed by one retry run and released when the pass postponed nothing new; a pass that
postpones again (or fails for a passing reason, or runs out of time) leaves it due at the next
retry. After MAX_RETRY_PASSES passes without success the account is left to the daily run.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from aws_lambda_powertools import Logger
from pydantic import Field, ValidationError

from central.aws.expiry_item import ExpiryItem, epoch
from central.aws.retry_marks import RetryMark
from central.collaborators import Services
from central.domain.errors import IkrError
from central.domain.results import AccountResult, AccountStatus, RunResult
from central.domain.summary import account_lines
from central.rotation.account import new_run_id
from central.rotation.postpone import RetryScope
from central.rotation.run import AccountWork, run_account

logger = Logger(service="ikr")

# Passes over an account with postponed rotations before the retry run leaves it to the daily run:
# an hour at the default RETRY_AFTER_MINS. A refusal that never clears (a mailbox that does not
# exist) makes a key and removes it again on each pass; this bounds that.
MAX_RETRY_PASSES = 12


class RetryRun(RunResult):
    """A retry run's result: `swept` counts the failed destructions handed to the destructor again,
    `accounts` the accounts with postponed rotations worked again."""

    dry_run: bool = False
    left_to_daily_run: list[str] = Field(default_factory=list)  # account ids: passes used up, or unusable mark


def _always() -> bool:
    return True


def run_retries(services: Services, keep_going: Callable[[], bool] = _always) -> RetryRun:
    """One retry run. `keep_going` is asked before each account and each rotation; an account not
    started keeps its mark, due at the next retry run."""
    now = services.clock()
    run = RetryRun(run_id=new_run_id(), now=now)
    due = services.table.retries.due(epoch(now))
    handed = [item for item in due.items if services.table.remove_expired(item, now)]
    run.swept = len(handed)
    for mark in due.marks:
        if not keep_going():
            logger.warning("time ran low; accounts left for the next retry run", run_id=run.run_id)
            break
        try:
            swept = tuple(item for item in handed if item.account_id == mark.account_id)
            row = _retry_account(services, run, mark, swept, keep_going)
        except IkrError as exc:  # the mark's own writes failed: its account is retried next time
            logger.error("retry of account failed", account_id=mark.account_id, reason=str(exc))
            row = AccountResult(
                account_id=mark.account_id,
                account_name=mark.account_id,
                status=AccountStatus.FAILED,
                detail=f"account {mark.account_id}: retry not started: {exc}",
            )
        if row is not None:
            run.accounts.append(row)
    logger.info(
        "retry run",
        run_id=run.run_id,
        now=now.isoformat(),
        destructions=run.swept,
        accounts=len(run.accounts),
        left_to_daily_run=run.left_to_daily_run,
    )
    return run


def _retry_account(
    services: Services,
    run: RetryRun,
    mark: RetryMark,
    being_deleted: tuple[ExpiryItem, ...],
    keep_going: Callable[[], bool],
) -> AccountResult | None:
    marks = services.table.retries
    retry_after = timedelta(minutes=services.settings.RETRY_AFTER_MINS)
    if not marks.claim(mark, run.run_id, epoch(run.now + retry_after)):
        return None  # another retry run has it, or a new postponement moved it on
    scope = _scope(mark)
    if scope is None or mark.passes >= MAX_RETRY_PASSES:
        marks.release(mark.account_id, run.run_id)
        run.left_to_daily_run.append(mark.account_id)
        logger.warning(
            "postponed rotations left to the daily run",
            account_id=mark.account_id,
            passes=mark.passes,
            reason=mark.reason,
        )
        return None
    work = AccountWork(scope.scope(), run.now, run.run_id, being_deleted=being_deleted)
    done = run_account(services, work, keep_going)
    if not done.passing and not done.left:
        marks.release(mark.account_id, run.run_id)  # kept if the pass postponed a user again
    return done.result


def _scope(mark: RetryMark) -> RetryScope | None:
    try:
        return RetryScope.model_validate_json(mark.scope)
    except ValidationError as exc:
        logger.error("retry mark with an unusable scope", account_id=mark.account_id, reason=str(exc))
        return None


def retry_lines(run: RetryRun) -> list[str]:
    """The retry run as terminal lines: what it handed on, each account worked again, the verdict."""
    lines = [
        f"ikr retry at {run.now:%Y-%m-%d %H:%M} UTC, run {run.run_id}: {run.swept} failed deletion(s) "
        f"handed to the destructor again, {len(run.accounts)} account(s) with postponed rotations worked again"
    ]
    for account in run.accounts:
        lines.extend(account_lines(account))
    lines.extend(
        f"{account_id}: postponed rotations left to the daily run ({MAX_RETRY_PASSES} retries used, or an "
        "unusable mark: see the log)"
        for account_id in run.left_to_daily_run
    )
    lines.append("some accounts or users FAILED (exit 1)" if run.failed else "all well")
    return lines
