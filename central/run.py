"""One rotator run: discover the Organization, sweep overdue expiry items, rotate every opted-in account.

One account's failure (no role, access denied, throttled past every retry) becomes that account's
row and a log line with its id; the run goes on with the others.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from central import aws
from central.errors import IkrError, UsageError, aws_reason
from central.expiry_table import ExpiryItem
from central.organization import discover
from central.results import AccountResult, AccountStatus, RunResult
from central.rotation import RotationContext, new_run_id, rotate_account
from central.scope import AccountScope, resolve
from central.services import Services
from central.tags import ENABLED

logger = Logger(service="ikr")


def account_scopes(services: Services) -> tuple[list[AccountScope], bool]:
    settings = services.settings
    found = discover(aws.organizations(services.central), services.broker.central_account_id)
    scopes = [
        resolve(account, settings.ROTATE_AFTER_DAYS, settings.DELETE_AFTER_DAYS, found.standalone)
        for account in found.accounts
    ]
    return scopes, found.standalone


def run_rotation(services: Services, dry_run: bool = False, only: Sequence[str] = ()) -> RunResult:
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
    for scope in scopes:
        being_deleted = [item for item in swept if item.account_id == scope.account.id]
        result.accounts.append(_run_account(services, scope, result, being_deleted))
    return result


def _run_account(
    services: Services, scope: AccountScope, run: RunResult, being_deleted: list[ExpiryItem]
) -> AccountResult:
    account = scope.account
    row = AccountResult(
        account_id=account.id,
        account_name=account.name,
        ou_path=account.ou_path,
        status=AccountStatus.NOT_OPTED_IN,
        detail=scope.enabled_source,
    )
    # A bad days tag matters only where ikr works; a bad IKR:ENABLED always does (opted in or not?).
    if scope.problems and (scope.enabled or any(ENABLED in problem for problem in scope.problems)):
        logger.error("bad account or OU tag", account_id=account.id, problems=scope.problems)
        return row.model_copy(update={"status": AccountStatus.FAILED, "detail": "; ".join(scope.problems)})
    if not scope.enabled:
        return row
    try:
        session = services.broker.session_for(account.id)
        return rotate_account(
            RotationContext(
                session=session,
                scope=scope,
                now=run.now,  # one instant for the whole run, as the sweep used
                table=services.table,
                mailer=services.mailer,
                encrypt=services.settings.ENCRYPT_KEY_PAIR,
                dry_run=run.dry_run,
                run_id=run.run_id,
                being_deleted=tuple(being_deleted),
            )
        )
    except (IkrError, ClientError, BotoCoreError) as exc:
        reason = str(exc) if isinstance(exc, IkrError) else f"account {account.id}: {aws_reason(exc)}"
        logger.error("account failed", account_id=account.id, reason=reason)
        return row.model_copy(update={"status": AccountStatus.FAILED, "detail": reason})
