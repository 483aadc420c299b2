"""One rotator run: discover the Organization, sweep overdue expiry items, rotate every opted-in account.

Accounts are worked concurrently (IKR_CONCURRENCY threads, one boto3 session each, released when
the account is done); the run's rows stay in discovery order whatever order they finish in. One
account's failure (no role, access denied, throttled past every retry) becomes that account's row
and a log line with its id; the run goes on with the others.

`prepare_run` (discovery + sweep) and `run_account` (one account) are shared with the fan-out on AWS,
where the rotator queues one message per account and the account worker Lambda runs each.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from aws_lambda_powertools import Logger

from central.aws.errors import AwsError
from central.aws.expiry_item import ExpiryItem
from central.aws.member import MemberAccount
from central.aws.organizations import discover_from
from central.collaborators import Services
from central.concurrency import ordered_map
from central.domain.errors import AccountAccessError, IkrError, UsageError
from central.domain.results import AccountResult, AccountStatus, RunResult
from central.domain.scope import AccountScope, resolve
from central.rotation.account import RotationContext, new_run_id, rotate_account_part

logger = Logger(service="ikr")


def account_scopes(services: Services) -> tuple[list[AccountScope], bool]:
    settings = services.settings
    found = discover_from(services.central, services.broker.central_account_id)
    scopes = [
        resolve(account, settings.ROTATE_AFTER_DAYS, settings.DELETE_AFTER_DAYS, found.standalone)
        for account in found.accounts
    ]
    return scopes, found.standalone


@dataclass(frozen=True)
class PreparedRun:
    """A run after discovery and the sweep: its id and time, the accounts, what the sweep removed."""

    result: RunResult  # no account rows yet
    scopes: list[AccountScope]
    swept: list[ExpiryItem]

    def being_deleted(self, account_id: str) -> tuple[ExpiryItem, ...]:
        return tuple(item for item in self.swept if item.account_id == account_id)


def prepare_run(services: Services, dry_run: bool = False, only: Sequence[str] = ()) -> PreparedRun:
    services.table.check()
    now = services.clock()
    result = RunResult(run_id=new_run_id(), now=now, dry_run=dry_run)
    scopes, result.standalone = account_scopes(services)
    if only:
        known = {scope.account.id for scope in scopes}
        missing = sorted(set(only) - known)
        if missing:
            raise UsageError(f"--account {', '.join(missing)}: not an ACTIVE account of this Organization")
        scopes = [scope for scope in scopes if scope.account.id in only]
    swept = [] if dry_run else services.table.sweep(now)
    result.swept = len(swept)
    logger.info("run started", run_id=result.run_id, now=now.isoformat(), accounts=len(scopes), dry_run=dry_run)
    return PreparedRun(result, scopes, swept)


def run_rotation(
    services: Services,
    dry_run: bool = False,
    only: Sequence[str] = (),
    *,
    progress: Callable[[AccountResult], None] | None = None,
    concurrency: int | None = None,
) -> RunResult:
    """One run over every account. `progress` gets each account's row as it finishes (from the
    calling thread); `concurrency` accounts are worked at once (default IKR_CONCURRENCY)."""
    prepared = prepare_run(services, dry_run, only)
    run = prepared.result

    def one(scope: AccountScope) -> AccountResult:
        work = AccountWork(scope, run.now, run.run_id, run.dry_run, prepared.being_deleted(scope.account.id))
        return run_account(services, work).result

    workers = concurrency if concurrency is not None else services.settings.IKR_CONCURRENCY
    run.accounts = ordered_map(prepared.scopes, one, workers, progress, name="ikr-account")
    return run


@dataclass(frozen=True)
class AccountWork:
    """Everything one account's rotation needs besides the services: a value, so it can be queued."""

    scope: AccountScope
    now: datetime  # one instant for the whole run, as the sweep used
    run_id: str
    dry_run: bool = False
    being_deleted: tuple[ExpiryItem, ...] = ()  # items this run's sweep removed from this account


@dataclass(frozen=True)
class AccountRun:
    result: AccountResult
    passing: bool = False  # failed for a reason a later attempt may not meet (throttled, unreachable)
    left: int = 0  # users not started because `keep_going` said stop


def _always() -> bool:
    return True


def gate(scope: AccountScope) -> AccountResult | None:
    """The row of an account ikr does not work (not opted in, or a bad tag on its scopes), else None."""
    account = scope.account
    row = AccountResult(
        account_id=account.id,
        account_name=account.name,
        ou_path=account.ou_path,
        status=AccountStatus.NOT_OPTED_IN,
        detail=str(scope.opt_in),
    )
    if scope.blocked:
        problems = [str(problem) for problem in scope.problems]
        logger.error("bad account or OU tag", account_id=account.id, problems=problems)
        return row.model_copy(update={"status": AccountStatus.FAILED, "detail": "; ".join(problems)})
    return None if scope.enabled else row


def run_account(services: Services, work: AccountWork, keep_going: Callable[[], bool] = _always) -> AccountRun:
    """One account, from its scope to its row. `keep_going` is asked before each rotation is started."""
    skipped = gate(work.scope)
    if skipped is not None:
        return AccountRun(skipped)
    account = work.scope.account
    try:
        part = rotate_account_part(
            RotationContext(
                member=MemberAccount(services.broker.session_for(account.id), account.id),
                scope=work.scope,
                now=work.now,
                table=services.table,
                mailer=services.mailer,
                encrypt=services.settings.ENCRYPT_KEY_PAIR,
                deactivate_days=services.settings.DEACTIVATE_BEFORE_DELETE_DAYS,
                notifier=services.notifier,
                delivery_prefix=services.settings.DELIVERY_PREFIX,
                dry_run=work.dry_run,
                run_id=work.run_id,
                being_deleted=work.being_deleted,
                clock=services.clock,
                lease_minutes=services.settings.IKR_LEASE_MINUTES,
                admin=services.admin,
                retry_after=timedelta(minutes=services.settings.RETRY_AFTER_MINS),
            ),
            keep_going,
        )
        return AccountRun(part.result, left=part.left)
    except IkrError as exc:
        reason = f"account {account.id}: {exc.reason}" if isinstance(exc, AwsError) else str(exc)
        logger.error("account failed", account_id=account.id, reason=reason)
        row = AccountResult(
            account_id=account.id,
            account_name=account.name,
            ou_path=account.ou_path,
            status=AccountStatus.FAILED,
            detail=reason,
        )
        return AccountRun(row, passing=_passing(exc))
    finally:
        services.broker.release(account.id)


def _passing(exc: IkrError) -> bool:
    """A failure a later attempt may not meet: throttled past botocore's retries, AWS unreachable."""
    # AccountAccessError stands for the AssumeRole failure translated as its cause.
    cause = exc.__cause__ if isinstance(exc, AccountAccessError) else exc
    return isinstance(cause, AwsError) and cause.retryable
