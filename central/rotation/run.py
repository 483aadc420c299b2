"""One rotator run: discover the Organization, sweep overdue expiry items, rotate every opted-in account.

Accounts are worked concurrently (IKR_CONCURRENCY threads, one boto3 session each, released when
the account is done); the run's rows stay in discovery order whatever order they finish in. One
account's failure (no role, access denied, throttled past every retry) becomes that account's row
and a log line with its id; the run goes on with the others.

Discovery is the walk of the Organization's tree (`run_accounts`); an account's own tags are read on
its own thread, where it is worked (`scope_of`: one Organizations call per account, made by the
account's work rather than before any work starts). `scope_of`, `state_row`, `gate` and `run_account`
(one account) are shared with the fan-out on AWS (`central.rotation.fanout`), where the rotator queues
one message per account and the account worker Lambda reads its tags and runs it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from aws_lambda_powertools import Logger

from central.aws.errors import AwsError
from central.aws.expiry_item import ExpiryItem
from central.aws.member import MemberAccount
from central.aws.org_lookup import look_up_from
from central.aws.organizations import account_tags_from, discover_from, standalone_account, start_walk, walk_from
from central.collaborators import Services
from central.concurrency import ordered_stream
from central.domain import account_state
from central.domain.errors import AccountAccessError, IkrError, UsageError
from central.domain.model import Account
from central.domain.results import AccountResult, AccountStatus, RunResult
from central.domain.scope import AccountScope, resolve
from central.rotation.account import RotationContext, new_run_id, rotate_account_part
from central.rotation.not_deployed import not_deployed_reason

logger = Logger(service="ikr")


def account_scopes(services: Services) -> tuple[list[AccountScope], bool]:
    settings = services.settings
    found = discover_from(services.central, services.broker.central_account_id)
    scopes = [
        resolve(account, settings.ROTATE_AFTER_DAYS, settings.DELETE_AFTER_DAYS, found.standalone)
        for account in found.accounts
    ]
    return scopes, found.standalone


def run_accounts(services: Services) -> tuple[list[Account], bool]:
    """Every account a run looks at, sorted by id, with its OU path and the OUs' tags but without its
    own tags: those are read where the account is worked (`scope_of`), so a run's Organizations
    calls do not grow one per account before any work starts."""
    # The caller's identity is read once, here, before the accounts' threads need it (session_for).
    caller = services.broker.central_account_id
    cursor = start_walk(services.central)
    if cursor is None:
        return [standalone_account(caller)], True
    accounts = [account for page in walk_from(services.central, cursor) for account in page.accounts]
    return sorted(accounts, key=lambda account: account.id), False


def named_accounts(services: Services, account_ids: Sequence[str]) -> tuple[list[Account], bool, list[str]]:
    """The accounts `account_ids` name, as a run sees them, sorted by id; whether the caller is in no
    Organization; and the ids that are not ACTIVE accounts of it. Looked up one by one
    (`central.aws.org_lookup`: 2 Organizations calls for the roots, then 2 + 3 per OU level each), not
    by walking the tree: `--account` and an exposed key cost the same in 10 accounts and 10,000. A
    caller in no Organization has its own account alone."""
    lookups = look_up_from(services.central, account_ids)
    found = lookups.accounts
    if lookups.standalone:
        caller = services.broker.central_account_id
        found = {account_id: standalone_account(caller) if account_id == caller else None for account_id in account_ids}
    accounts = sorted((account for account in found.values() if account is not None), key=lambda account: account.id)
    missing = sorted(account_id for account_id, account in found.items() if account is None)
    return accounts, lookups.standalone, missing


def scope_of(services: Services, account: Account, standalone: bool) -> AccountScope:
    """The account's inherited policy, its own tags read first (none to read for a standalone account).
    A failure to read them is an `AwsError` naming the account."""
    settings = services.settings
    own = () if standalone else account_tags_from(services.central, account.id)
    tagged = account.model_copy(update={"tags": own})
    return resolve(tagged, settings.ROTATE_AFTER_DAYS, settings.DELETE_AFTER_DAYS, standalone)


@dataclass(frozen=True)
class PreparedRun:
    """A run after discovery and the sweep: its id and time, the accounts (own tags not read yet),
    what the sweep removed."""

    result: RunResult  # no account rows yet
    accounts: list[Account]
    swept: list[ExpiryItem]

    def being_deleted(self, account_id: str) -> tuple[ExpiryItem, ...]:
        return tuple(item for item in self.swept if item.account_id == account_id)


def prepare_run(services: Services, dry_run: bool = False, only: Sequence[str] = ()) -> PreparedRun:
    services.table.check()
    now = services.clock()
    result = RunResult(run_id=new_run_id(), now=now, dry_run=dry_run)
    if only:  # the accounts named, looked up directly: no walk of the whole tree for them
        accounts, result.standalone, missing = named_accounts(services, only)
        if missing:
            raise UsageError(f"--account {', '.join(missing)}: not an ACTIVE account of this Organization")
    else:
        accounts, result.standalone = run_accounts(services)
    swept = [] if dry_run else services.table.sweep(now)
    result.swept = len(swept)
    logger.info("run started", run_id=result.run_id, now=now.isoformat(), accounts=len(accounts), dry_run=dry_run)
    return PreparedRun(result, accounts, swept)


class RunSink(Protocol):
    """Who takes a run's rows as they come, in the run's order (the CLI prints them): `start` once the
    run is prepared, `row` per account; what `row` returns is what the run keeps of that account."""

    def start(self, run: RunResult) -> None: ...

    def row(self, account: AccountResult) -> AccountResult: ...


def run_rotation(
    services: Services,
    dry_run: bool = False,
    only: Sequence[str] = (),
    *,
    progress: Callable[[AccountResult], None] | None = None,
    concurrency: int | None = None,
    sink: RunSink | None = None,
) -> RunResult:
    """One run over every account. `progress` gets each account's row as it finishes (from the
    calling thread); `concurrency` accounts are worked at once (default IKR_CONCURRENCY), at most
    four per worker started ahead of the first unfinished one; `sink` takes the rows in order and
    says what of each is kept (everything without one)."""
    prepared = prepare_run(services, dry_run, only)
    run = prepared.result
    if sink is not None:
        sink.start(run)

    def one(account: Account) -> AccountResult:
        row = state_row(account)
        if row is not None:
            return row
        try:
            scope = scope_of(services, account, run.standalone)
        except IkrError as exc:
            return failed_run(account, exc).result
        work = AccountWork(scope, run.now, run.run_id, run.dry_run, prepared.being_deleted(account.id))
        return run_account(services, work).result

    workers = concurrency if concurrency is not None else services.settings.IKR_CONCURRENCY
    rows = ordered_stream(prepared.accounts, one, workers, progress, name="ikr-account")
    run.accounts = [row if sink is None else sink.row(row) for row in rows]
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


def state_row(account: Account) -> AccountResult | None:
    """The row of an account in an Organizations state ikr does not know (never taken for ACTIVE), else None."""
    if not account_state.unknown(account.state):
        return None
    detail = account_state.unknown_detail(account.state)
    logger.error("account in an unknown state; not worked", account_id=account.id, state=account.state)
    return AccountResult(
        account_id=account.id,
        account_name=account.name,
        ou_path=account.ou_path,
        status=AccountStatus.FAILED,
        detail=detail,
    )


def gate(scope: AccountScope) -> AccountResult | None:
    """The row of an account ikr does not work (not opted in, a bad tag on its scopes, a state ikr does
    not know), else None."""
    account = scope.account
    unknown_state = state_row(account)
    if unknown_state is not None:
        return unknown_state
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
        part = rotate_account_part(account_context(services, work), keep_going)
        return AccountRun(part.result, left=part.left)
    except IkrError as exc:
        missing = not_deployed_reason(account, exc, services.broker.central_account_id)
        if missing is not None:
            logger.warning("account not deployed", account_id=account.id, reason=missing)
            return AccountRun(_row(account, AccountStatus.NOT_DEPLOYED, missing))
        return failed_run(account, exc)
    finally:
        services.broker.release(account.id)


def account_context(services: Services, work: AccountWork) -> RotationContext:
    """The context of one account's rotations (a run's, or one asked for on demand)."""
    account = work.scope.account
    return RotationContext(
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
        ci=services.ci,
        remind_before_days=services.settings.REMIND_BEFORE_DAYS,
    )


def failed_run(account: Account, exc: IkrError) -> AccountRun:
    """The account's row when it could not be worked: its id and AWS's own words, logged once."""
    reason = f"account {account.id}: {exc.reason}" if isinstance(exc, AwsError) else str(exc)
    logger.error("account failed", account_id=account.id, reason=reason)
    return AccountRun(_row(account, AccountStatus.FAILED, reason), passing=_passing(exc))


def _row(account: Account, status: AccountStatus, detail: str) -> AccountResult:
    return AccountResult(
        account_id=account.id, account_name=account.name, ou_path=account.ou_path, status=status, detail=detail
    )


def _passing(exc: IkrError) -> bool:
    """A failure a later attempt may not meet: throttled past botocore's retries, AWS unreachable."""
    # AccountAccessError stands for the AssumeRole failure translated as its cause.
    cause = exc.__cause__ if isinstance(exc, AccountAccessError) else exc
    return isinstance(cause, AwsError) and cause.retryable
