"""The rotator's side of the fan-out on AWS: walk the Organization and queue one message per account
for the account worker Lambda, as the pages of the walk arrive, instead of rotating in process.

The rotator reads no account's own tags: that is one Organizations call per account, so each message
carries the account's OU path with the OUs' tags, and the worker reads the account's tags and resolves
its opt-in and days (nearest of account, OUs, root, as in a run in process). The rotator's
Organizations calls are one per page of 20 accounts plus two per OU plus the root's few, whatever
the number of accounts; it keeps no list of all accounts, only the rows of accounts it could not queue
(a state ikr does not know, a message SQS refused).

A run that nears its end (`keep_going` says stop) writes where the walk stands (`WalkPositions`, one
item in the expiry table) and says so (`finished` False); the next invocation given that run's id,
or the next scheduled one within `CONTINUE_WITHIN_HOURS`, goes on from there: every account is
queued once per run, none twice.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from aws_lambda_powertools import Logger
from pydantic import BaseModel, Field

from central.aws.expiry_item import ExpiryItem
from central.aws.organizations import standalone_account, start_walk, walk_from
from central.aws.walk_position import WalkPosition, WalkPositions, age_hours
from central.collaborators import Services
from central.domain.model import Account
from central.domain.results import AccountResult, AccountStatus
from central.domain.scope import resolve
from central.rotation.account import new_run_id
from central.rotation.account_queue import AccountMessage, AccountQueue
from central.rotation.run import AccountWork, gate, state_row

logger = Logger(service="ikr")

# A scheduled run that finds an unfinished walk younger than this continues it rather than starting
# afresh: the walk's re-invocation was lost, and a fresh walk would queue its first accounts twice in
# one day. An older one is left: the fresh walk covers every account.
CONTINUE_WITHIN_HOURS = 20


class QueuedRun(BaseModel):
    run_id: str
    now: datetime
    standalone: bool = False
    swept: int = 0
    queued: int = 0  # accounts handed to the account worker by this invocation
    accounts: list[AccountResult] = Field(default_factory=list)  # the accounts not queued, in walk order
    finished: bool = True  # False: the walk stopped short; its position is saved for the next invocation
    part: int = 1  # which invocation of the run this was (1: the first)

    @property
    def failed(self) -> bool:
        return any(account.failed for account in self.accounts)


def _always() -> bool:
    return True


def queue_run(
    services: Services,
    queue: AccountQueue,
    positions: WalkPositions | None = None,
    keep_going: Callable[[], bool] = _always,
    continue_run: str | None = None,
) -> QueuedRun:
    """One invocation of a fan-out run: a new run, or the rest of an unfinished one (`continue_run`, its
    run id; or found by a scheduled invocation). `keep_going` is asked after each page of the walk."""
    services.table.check()
    found, seq = positions.load() if positions is not None else (None, 0)
    clock_now = services.clock()
    position = _to_continue(found, continue_run, clock_now)
    if position is None and continue_run is not None:
        logger.warning("nothing to continue: the run's walk is finished or was taken over", run_id=continue_run)
        return QueuedRun(run_id=continue_run, now=clock_now, part=0)
    claimed = position is not None and positions is not None
    if position is not None and positions is not None:
        position = positions.save(position.model_copy(update={"part": position.part + 1}))  # claims the walk
    swept = services.table.sweep(clock_now)
    being_deleted: dict[str, list[ExpiryItem]] = {}
    for item in swept:
        being_deleted.setdefault(item.account_id, []).append(item)
    run_id = position.run_id if position else new_run_id()
    now = position.now if position else clock_now
    queued = QueuedRun(run_id=run_id, now=now, swept=len(swept), part=position.part if position else 1)
    if position is None:
        cursor = start_walk(services.central)
        if cursor is None:
            queued.standalone = True
            _queue_standalone(services, queue, queued, swept)
            return queued
        position = WalkPosition(run_id=run_id, now=now, started_at=clock_now, cursor=cursor, seq=seq)
    logger.info("run started", run_id=run_id, now=now.isoformat(), part=queued.part, swept=len(swept))
    for page in walk_from(services.central, position.cursor):
        messages: list[AccountMessage] = []
        for account in page.accounts:
            row = state_row(account)
            if row is not None:
                queued.accounts.append(row)
                continue
            messages.append(AccountMessage.for_account(account, run_id, now, being_deleted.get(account.id, ())))
        _send(queue, messages, queued)
        position = position.model_copy(update={"cursor": page.after, "queued": position.queued + len(messages)})
        if not page.after.done and not keep_going():
            queued.finished = False
            break
    if positions is not None and (claimed or not queued.finished):
        positions.save(position.model_copy(update={"finished": queued.finished}))
    logger.info(
        "accounts queued" if queued.finished else "accounts queued; the walk goes on in the next invocation",
        run_id=run_id,
        queued=queued.queued,
        queue=queue.url,
        part=queued.part,
    )
    return queued


def _to_continue(found: WalkPosition | None, continue_run: str | None, now: datetime) -> WalkPosition | None:
    if found is None or found.finished:
        return None
    if continue_run is not None:
        return found if found.run_id == continue_run else None
    if age_hours(found, now) < CONTINUE_WITHIN_HOURS:
        logger.warning("continuing an unfinished walk: its own continuation did not come", run_id=found.run_id)
        return found
    return None


def _queue_standalone(services: Services, queue: AccountQueue, queued: QueuedRun, swept: list[ExpiryItem]) -> None:
    """No Organization: the caller's own account, its policy resolved here (it has no tags to read)."""
    settings = services.settings
    account = standalone_account(services.broker.central_account_id)
    scope = resolve(account, settings.ROTATE_AFTER_DAYS, settings.DELETE_AFTER_DAYS, standalone=True)
    row = gate(scope)
    if row is not None:
        queued.accounts.append(row)
        return
    work = AccountWork(scope, queued.now, queued.run_id, being_deleted=tuple(swept))
    _send(queue, [AccountMessage.for_work(work)], queued)


def _send(queue: AccountQueue, messages: list[AccountMessage], queued: QueuedRun) -> None:
    if not messages:
        return
    failures = {failure.account_id: failure.reason for failure in queue.send(messages)}
    for message in messages:
        account = message.account
        if account.id in failures:
            logger.error("account not queued", account_id=account.id, reason=failures[account.id])
            queued.accounts.append(_not_queued(account, failures[account.id]))
    queued.queued += len(messages) - len(failures)


def _not_queued(account: Account, reason: str) -> AccountResult:
    return AccountResult(
        account_id=account.id,
        account_name=account.name,
        ou_path=account.ou_path,
        status=AccountStatus.FAILED,
        detail=f"account {account.id}: could not queue its message: {reason}",
    )
