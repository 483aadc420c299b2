"""The scan of one account at the floor of IAM calls: its managed users, and the credential report.

A steady-state scan costs 3 IAM calls whatever the number of users: GenerateCredentialReport (asked
first, so IAM builds the report while the users are read; a no-op while a report under 4 hours old
exists), GetAccountAuthorizationDetails (every user with its tags, 1,000 a page) and
GetCredentialReport. A report that must be built first costs one more GenerateCredentialReport per
poll.

The report may be up to 4 hours old and names no key ids, so it is trusted only to say "not due":
`report_keys` gives a user's keys as the report shows them, or None where it cannot speak for the
user (no row: a user newer than the report; a row of an earlier user of the same name; a slot
without a date). The rotation decides from the report only a user with no expiry-table item whose
reported keys the policy finds not due; everyone else gets ListAccessKeys, so a rotation is only
ever started from live keys. Without a report (refused, not ready in time) every managed user's
keys are listed, as before the report was used.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger

from central.aws.credential_report import DEFAULT_WAIT_SECONDS, CredentialReport, CredentialReportError
from central.aws.errors import AwsError, reason_of
from central.aws.iam_inventory import ListedUser
from central.domain.model import AccessKey, KeyStatus

if TYPE_CHECKING:
    from central.aws.iam import IamAccount

logger = Logger(service="ikr")

_REPORT_TROUBLE = (CredentialReportError, AwsError)


@dataclass(frozen=True)
class AccountScan:
    managed: list[ListedUser]  # the users tagged IKR:EMAIL, keys not filled
    report: CredentialReport | None  # None: not to be had; every managed user's keys are listed


def scan_account(
    iam: IamAccount,
    wait_seconds: float = DEFAULT_WAIT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> AccountScan:
    try:
        started: str | None = iam.start_credential_report()
    except _REPORT_TROUBLE as exc:
        _without_report(iam.account_id, exc)
        started = None
    managed = iam.listed_users(managed_only=True)
    report: CredentialReport | None = None
    if started is not None and managed:
        try:
            names = {listed.user.name for listed in managed}
            report = iam.credential_report(wait_seconds, sleep, started=started, users=names)
        except _REPORT_TROUBLE as exc:
            _without_report(iam.account_id, exc)
    return AccountScan(managed, report)


def _without_report(account_id: str, exc: CredentialReportError | AwsError) -> None:
    # The report only saves calls: without it every managed user's keys are listed.
    reason = reason_of(exc)
    logger.warning("no credential report; listing every managed user's keys", account_id=account_id, reason=reason)


def reported_key_label(created: datetime) -> str:
    """What stands for a key id in a decision made from the report (which names no key ids)."""
    return f"created {created:%Y-%m-%d}"


def report_keys(listed: ListedUser, report: CredentialReport | None) -> tuple[AccessKey, ...] | None:
    """The user's keys as the report shows them, or None where the report cannot speak for the user."""
    row = report.row(listed.user.name) if report is not None else None
    if row is None or row.created is None or row.arn != listed.user.arn:
        return None
    if listed.created is not None and int(listed.created.timestamp()) > int(row.created.timestamp()):
        return None  # the row is of an earlier user of the same name
    keys: list[AccessKey] = []
    for slot in row.keys:
        if slot.last_rotated is None:
            return None
        keys.append(
            AccessKey(
                key_id=reported_key_label(slot.last_rotated),
                status=KeyStatus.ACTIVE if slot.active else KeyStatus.INACTIVE,
                created=slot.last_rotated,
            )
        )
    return tuple(keys)
