"""The rotator's side of the fan-out on AWS: discovery and the sweep, then one queued message per
opted-in account for the account worker Lambda, instead of rotating in process.

Accounts ikr does not work (not opted in, a bad IKR: tag on the account or its OUs) get their row
here, as in a run in process; so does an account whose message SQS refused.
"""

from __future__ import annotations

from datetime import datetime

from aws_lambda_powertools import Logger
from pydantic import BaseModel, Field

from central.collaborators import Services
from central.domain.results import AccountResult, AccountStatus
from central.rotation.account_queue import AccountMessage, AccountQueue
from central.rotation.run import AccountWork, gate, prepare_run

logger = Logger(service="ikr")


class QueuedRun(BaseModel):
    run_id: str
    now: datetime
    standalone: bool = False
    swept: int = 0
    queued: int = 0  # accounts handed to the account worker
    accounts: list[AccountResult] = Field(default_factory=list)  # the accounts not queued, in discovery order

    @property
    def failed(self) -> bool:
        return any(account.failed for account in self.accounts)


def queue_run(services: Services, queue: AccountQueue) -> QueuedRun:
    prepared = prepare_run(services)
    run = prepared.result
    queued = QueuedRun(run_id=run.run_id, now=run.now, standalone=run.standalone, swept=run.swept)
    messages: list[AccountMessage] = []
    rows: dict[str, AccountResult] = {}
    for scope in prepared.scopes:
        row = gate(scope)
        if row is not None:
            rows[scope.account.id] = row
            continue
        work = AccountWork(scope, run.now, run.run_id, being_deleted=prepared.being_deleted(scope.account.id))
        messages.append(AccountMessage.for_work(work))
    failures = {failure.account_id: failure.reason for failure in queue.send(messages)}
    for message in messages:
        account = message.account
        if account.id in failures:
            logger.error("account not queued", account_id=account.id, reason=failures[account.id])
            rows[account.id] = AccountResult(
                account_id=account.id,
                account_name=account.name,
                ou_path=account.ou_path,
                status=AccountStatus.FAILED,
                detail=f"account {account.id}: could not queue its message: {failures[account.id]}",
            )
    queued.queued = len(messages) - len(failures)
    queued.accounts = [rows[scope.account.id] for scope in prepared.scopes if scope.account.id in rows]
    logger.info("accounts queued", run_id=run.run_id, queued=queued.queued, queue=queue.url)
    return queued
