"""What every step of one user's rotation shares: the account's context, and the results and notices
the steps end in (failed, recovered, told to the administrator)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html import escape
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger

from central.cistores.stores import CiStores
from central.clock import Clock
from central.domain.delivery import DEFAULT_PREFIX
from central.domain.results import Outcome, UserResult
from central.notify.mailers.base import Mail
from central.notify.notice import Notifier, NullNotifier

if TYPE_CHECKING:
    from central.aws.expiry_item import ExpiryItem
    from central.aws.expiry_table import ExpiryTable
    from central.aws.member import MemberAccount
    from central.domain.scope import AccountScope
    from central.notify.admin import AdminNotifier
    from central.notify.mailers import Mailer

logger = Logger(service="ikr")

DEFAULT_LEASE_MINUTES = 20


@dataclass(frozen=True)
class RotationContext:
    member: MemberAccount  # the account's IAM and key stores
    scope: AccountScope
    now: datetime  # the instant decisions are made for
    table: ExpiryTable
    mailer: Mailer
    encrypt: bool
    dry_run: bool = False
    run_id: str = ""
    deactivate_days: int = 0  # DEACTIVATE_BEFORE_DELETE_DAYS: the mail says the old key goes inactive first
    # Items this run's sweep just removed: their destructor may not have run yet.
    being_deleted: tuple[ExpiryItem, ...] = ()
    notifier: Notifier = field(default_factory=NullNotifier)
    delivery_prefix: str = DEFAULT_PREFIX  # DELIVERY_PREFIX: IKR:DELIVERY targets lie under it
    clock: Clock | None = None  # ikr's one clock, read at each step (leases, delivery time)
    lease_minutes: int = DEFAULT_LEASE_MINUTES  # IKR_LEASE_MINUTES
    owner: str = ""  # lease owner id of this pass (lease_owner(run_id)); "" : made from run_id
    admin: AdminNotifier | None = None
    retry_after: timedelta = timedelta(minutes=5)  # RETRY_AFTER_MINS: a postponed rotation's retry run
    ci: CiStores = field(default_factory=CiStores)  # github:/gitlab: targets (the run's tokens)
    remind_before_days: int = 0  # REMIND_BEFORE_DAYS (central.rotation.remind); 0: no reminders

    def time(self) -> datetime:
        return self.clock() if self.clock is not None else self.now

    @property
    def account_label(self) -> str:
        account = self.scope.account
        return f"account {account.name} ({account.id})"

    def tell_admin(self, subject: str, lines: list[str], item: ExpiryItem, key_id: str | None = None) -> None:
        fields: dict[str, object] = {"account_id": item.account_id, "user": item.user_name}
        if key_id:
            fields["key_id"] = key_id
        if self.admin is not None:
            self.admin.notify(subject, lines, **fields)
        else:
            logger.error(f"admin notice: {subject}", extra={"notice": lines, **fields})

    def recovered(self, item: ExpiryItem, detail: str, deletes_at: datetime | None = None) -> UserResult:
        return UserResult(
            user=item.user_name,
            outcome=Outcome.WOULD_RECOVER if self.dry_run else Outcome.RECOVERED,
            new_key_id=item.new_key_id,
            old_key_id=item.old_key_id,
            old_key_deleted_at=deletes_at,
            detail=detail,
        )


def plain_mail(to: str, subject: str, lines: list[str]) -> Mail:
    text = "\n".join([*lines, "", "-- ikr, IAM key rotation"])
    return Mail(to=to, subject=subject, text=text, html="".join(f"<p>{escape(line)}</p>" for line in lines))


def failed(item: ExpiryItem, detail: str) -> UserResult:
    return UserResult(
        user=item.user_name,
        outcome=Outcome.FAILED,
        failed=True,
        detail=detail,
        old_key_id=item.old_key_id,
        new_key_id=item.new_key_id,
    )
