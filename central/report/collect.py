"""The AWS side of the report: read every account of the Organization, then let `build` judge.

Discovery and inheritance are the rotation run's (`central.rotation.run.account_scopes`); in each opted-in
account: the IKR:EMAIL users with their keys (`managed_users`), every user with tags (`all_users`),
the IAM credential report (last use of every key; the untagged users' key ages) and the account's
expiry table items. Reading only: no call here changes anything. Accounts are read concurrently
(IKR_CONCURRENCY); one account's failure is that account's row.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime

from aws_lambda_powertools import Logger

from central.aws.credential_report import DEFAULT_WAIT_SECONDS, CredentialReport
from central.aws.errors import AwsError, aws_call
from central.aws.expiry_item import ExpiryItem
from central.aws.iam_read import IamReader
from central.collaborators import Services
from central.domain import account_state
from central.domain.errors import AccountError, IkrError, UsageError
from central.domain.model import IamUser
from central.domain.scope import AccountScope
from central.report.build import (
    AccountData,
    account_rows,
    account_summary,
    assemble,
    at_risk,
    not_worked_row,
    opted_in_detail,
)
from central.report.rows import AccountRow, AccountState, Report, ReportRow
from central.rotation.not_deployed import not_deployed_reason
from central.rotation.run import account_scopes

logger = Logger(service="ikr")

Sleep = Callable[[float], None]


@dataclass(frozen=True)
class Reading:
    """How long to wait for IAM to build a credential report, and how to wait (tests: not at all)."""

    wait_seconds: float = DEFAULT_WAIT_SECONDS
    sleep: Sleep = time.sleep


def _reason(exc: IkrError) -> str:
    """AWS's own words for an AWS failure (the row names the account itself), else the error's text."""
    return exc.reason if isinstance(exc, AwsError) else str(exc)


def _items(services: Services, account_id: str, user_name: str | None = None) -> list[ExpiryItem]:
    # The expiry table's reads do not translate AWS's failures themselves yet (issue 15): done here.
    with aws_call("dynamodb:Query", f"expiry items of account {account_id} in table {services.table.name}"):
        if user_name is None:
            return services.table.for_account(account_id)
        return services.table.for_user(account_id, user_name)


def _credentials(iam: IamReader, reading: Reading, notes: list[str]) -> CredentialReport | None:
    try:
        return iam.credential_report(reading.wait_seconds, reading.sleep)
    except IkrError as exc:
        notes.append(f"credential report not read ({_reason(exc)}): last use unknown, untagged users not checked")
        return None


def read_account(services: Services, scope: AccountScope, now: datetime, reading: Reading = Reading()) -> AccountData:
    account_id = scope.account.id
    iam = IamReader(services.broker.session_for(account_id), account_id)
    managed = iam.managed_users()
    everyone = iam.users()
    notes: list[str] = []
    credentials = _credentials(iam, reading, notes)
    unmanaged: list[IamUser] = []
    if credentials is not None:
        unmanaged = [
            user.model_copy(update={"keys": iam.keys(user.name)})
            for user in everyone
            if at_risk(user, credentials, scope.rotate_after, now)
        ]
    records = services.table.account_records(account_id)  # the items, and the reminders sent: one Query
    return AccountData(
        managed=managed,
        unmanaged=unmanaged,
        credentials=credentials,
        items=records.items,
        notes=notes,
        deactivate_days=services.settings.DEACTIVATE_BEFORE_DELETE_DAYS,
        delivery_prefix=services.settings.DELIVERY_PREFIX,
        reminders=records.reminders,
    )


def report_account(
    services: Services, scope: AccountScope, now: datetime, reading: Reading = Reading()
) -> tuple[AccountRow, list[ReportRow]]:
    """One account's state and rows; any failure to read it becomes its `unreachable` row, and so does an
    Organizations state ikr does not know (never taken for ACTIVE)."""
    if account_state.unknown(scope.account.state):
        detail = account_state.unknown_detail(scope.account.state)
        rows = [not_worked_row(scope, AccountState.UNREACHABLE, detail)]
        return account_summary(scope, AccountState.UNREACHABLE, detail, rows), rows
    if scope.blocked:
        detail = "; ".join(str(problem) for problem in scope.problems)
        rows = [not_worked_row(scope, AccountState.BAD_TAGS, detail)]
        return account_summary(scope, AccountState.BAD_TAGS, detail, rows), rows
    if not scope.enabled:
        detail = str(scope.opt_in)
        rows = [not_worked_row(scope, AccountState.NOT_OPTED_IN, detail)]
        return account_summary(scope, AccountState.NOT_OPTED_IN, detail, rows), rows
    try:
        data = read_account(services, scope, now, reading)
    except IkrError as exc:
        missing = not_deployed_reason(scope.account, exc, services.broker.central_account_id)
        if missing is not None:
            rows = [not_worked_row(scope, AccountState.NOT_DEPLOYED, missing)]
            return account_summary(scope, AccountState.NOT_DEPLOYED, missing, rows), rows
        # An AccountError's text names its account already ("account <id>: ..."); anything else is given it.
        reason = str(exc) if isinstance(exc, AccountError) else f"account {scope.account.id}: {_reason(exc)}"
        logger.error("account not read for the report", account_id=scope.account.id, reason=reason)
        rows = [not_worked_row(scope, AccountState.UNREACHABLE, reason)]
        return account_summary(scope, AccountState.UNREACHABLE, reason, rows), rows
    rows = account_rows(scope, data, now)
    detail = opted_in_detail(scope)
    return account_summary(scope, AccountState.OPTED_IN, detail, rows, data.notes), rows


def collect_report(
    services: Services,
    progress: Callable[[AccountRow], None] | None = None,
    reading: Reading = Reading(),
) -> Report:
    """The whole Organization's report at the services' clock; `progress` hears of each account."""
    services.table.check()
    now = services.clock()
    scopes, standalone = account_scopes(services)
    accounts: list[AccountRow] = []
    rows: list[ReportRow] = []
    workers = max(1, min(services.settings.IKR_CONCURRENCY, len(scopes)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ikr-report") as pool:
        futures = [pool.submit(report_account, services, scope, now, reading) for scope in scopes]
        for future in as_completed(futures):
            account, account_rows_ = future.result()
            accounts.append(account)
            rows.extend(account_rows_)
            if progress is not None:
                progress(account)
    settings = services.settings
    return assemble(now, standalone, settings.ROTATE_AFTER_DAYS, settings.DELETE_AFTER_DAYS, accounts, rows)


@dataclass(frozen=True)
class UserFacts:
    """What `ikr explain` looks at: one user in one account, and everything that decides for it."""

    scope: AccountScope
    standalone: bool
    user: IamUser | None  # None when the account is not worked (not opted in, bad tags): never entered
    credentials: CredentialReport | None
    items: list[ExpiryItem]
    notes: list[str]
    deactivate_days: int = 0


def find_scope(scopes: Sequence[AccountScope], account_id: str) -> AccountScope:
    for scope in scopes:
        if scope.account.id == account_id:
            return scope
    raise UsageError(f"--account {account_id}: not an ACTIVE account of this Organization")


def read_user(services: Services, account_id: str, user_name: str, reading: Reading = Reading()) -> UserFacts:
    services.table.check()
    scopes, standalone = account_scopes(services)
    scope = find_scope(scopes, account_id)
    deactivate = services.settings.DEACTIVATE_BEFORE_DELETE_DAYS
    if scope.blocked or not scope.enabled or account_state.unknown(scope.account.state):
        return UserFacts(scope, standalone, None, None, [], [], deactivate)
    iam = IamReader(services.broker.session_for(account_id), account_id)
    found = [user for user in iam.users() if user.name == user_name]
    if not found:
        raise UsageError(f"account {account_id} has no IAM user {user_name!r}")
    user = found[0].model_copy(update={"keys": iam.keys(user_name)})
    notes: list[str] = []
    credentials = _credentials(iam, reading, notes)
    items = _items(services, account_id, user_name)
    return UserFacts(scope, standalone, user, credentials, items, notes, deactivate)
