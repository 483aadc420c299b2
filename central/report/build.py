"""Pure: one account's IAM users, credential report and expiry items in, report rows out.

The decisions are `central.domain.policy.decide`'s, on the same inputs a rotation run gives it (the
account's inherited scope, the user's tags and keys, the old keys waiting in the expiry table), so
the report says what the next run will do. No AWS here: `collect` reads, this module judges.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from central.aws.credential_report import CredentialReport, match_keys
from central.aws.expiry_item import ExpiryItem, State, from_epoch, pending_old_keys
from central.aws.reminders import Reminder
from central.domain.delivery import DEFAULT_PREFIX
from central.domain.model import AccessKey, IamUser, KeyStatus, LevelKind
from central.domain.policy import Action, Decision, decide
from central.domain.scope import AccountScope, Days
from central.domain.sources import Source, SourceKind
from central.domain.tags import has_email_tag
from central.report.ahead import exempt_next, exemption_row, reminder_rows
from central.report.restores import restore_row
from central.report.rows import (
    AccountRow,
    AccountState,
    KeyRow,
    Origin,
    PendingRow,
    PolicyDays,
    Report,
    ReportRow,
    RowKind,
    Summary,
)
from central.rotation.rotate import JOURNAL_STATES

# A daily run rotates a due key within a day; past that something blocks it.
GRACE = timedelta(days=1)


@dataclass
class AccountData:
    """What `collect` read in one opted-in account."""

    managed: list[IamUser]  # users tagged IKR:EMAIL, with their keys
    unmanaged: list[IamUser] = field(default_factory=list)  # untagged users at risk, with their keys
    credentials: CredentialReport | None = None  # None: it could not be read (see notes)
    items: list[ExpiryItem] = field(default_factory=list)  # this account's expiry table items
    notes: list[str] = field(default_factory=list)
    deactivate_days: int = 0  # DEACTIVATE_BEFORE_DELETE_DAYS: an old key goes Inactive first, then is deleted
    delivery_prefix: str = DEFAULT_PREFIX  # DELIVERY_PREFIX, as the rotation judges IKR:DELIVERY
    reminders: tuple[Reminder, ...] = ()  # reminders sent in this account (central.aws.reminders)


_LEVEL_ORIGINS = {LevelKind.ACCOUNT: Origin.ACCOUNT_TAG, LevelKind.OU: Origin.OU_TAG, LevelKind.ROOT: Origin.ROOT_TAG}


def origin(source: Source) -> Origin:
    """The report's word for the kind of scope a `Days.source` is."""
    if source.kind is SourceKind.USER_TAG:
        return Origin.USER_TAG
    if source.kind is SourceKind.SETTING:
        return Origin.DEFAULT
    if source.level is not None:
        return _LEVEL_ORIGINS[source.level.kind]
    raise ValueError(f"days from {source.kind.value} are never reported")  # the placeholder of `ikr tag-users`


def policy_days(days: Days) -> PolicyDays:
    return PolicyDays(days=days.days, origin=origin(days.source), source=str(days.source))


def opted_in_detail(scope: AccountScope) -> str:
    return f"opted in by {scope.opt_in}"


def at_risk(user: IamUser, credentials: CredentialReport, rotate_after: Days, now: datetime) -> bool:
    """An untagged user whose credential report shows an active key older than the policy (IAM.3)."""
    if has_email_tag(user.tags):
        return False
    row = credentials.row(user.name)
    limit = timedelta(days=rotate_after.days)
    return row is not None and any(
        key.active and key.last_rotated is not None and now - key.last_rotated >= limit for key in row.keys
    )


def _account_fields(scope: AccountScope) -> dict[str, str]:
    account = scope.account
    return {"account_id": account.id, "account_name": account.name, "ou_path": account.ou_path}


def not_worked_row(scope: AccountScope, state: AccountState, detail: str) -> ReportRow:
    kind = {
        AccountState.NOT_OPTED_IN: RowKind.NOT_OPTED_IN,
        AccountState.UNREACHABLE: RowKind.UNREACHABLE,
        AccountState.BAD_TAGS: RowKind.BAD_ACCOUNT_TAGS,
        AccountState.NOT_DEPLOYED: RowKind.NOT_DEPLOYED,
    }[state]
    action = {
        AccountState.NOT_OPTED_IN: "none: not opted in (tag the account or an OU above it IKR:ENABLED=true)",
        AccountState.UNREACHABLE: "none until ikr can enter the account",
        AccountState.BAD_TAGS: "none until the account or OU tag is fixed",
        AccountState.NOT_DEPLOYED: "none until ikr's access is deployed there (see the reason)",
    }[state]
    return ReportRow(
        kind=kind,
        **_account_fields(scope),
        account_state=state,
        account_detail=detail,
        next_action=action,
        # Not opted in, or not deployed: a decision or a step to take once, not a failure of each run.
        problem=state not in (AccountState.NOT_OPTED_IN, AccountState.NOT_DEPLOYED),
        reason=detail,
    )


def _key_rows(
    keys: Sequence[AccessKey], credentials: CredentialReport | None, user: str, now: datetime
) -> list[KeyRow]:
    used = match_keys(keys, credentials.row(user)) if credentials else {}
    rows = []
    for key in keys:
        slot = used.get(key.key_id)
        rows.append(
            KeyRow(
                key_id=key.key_id,
                status=key.status.value,
                created=key.created,
                age_days=(now - key.created).days,
                last_used=slot.last_used if slot else None,
                last_used_service=slot.last_used_service if slot else None,
                last_used_region=slot.last_used_region if slot else None,
            )
        )
    return rows


def _pending_rows(items: Sequence[ExpiryItem]) -> list[PendingRow]:
    return [
        PendingRow(
            old_key_id=item.old_key_id,
            state=item.state.value,
            deletes_at=from_epoch(item.expires_at) if item.expires_at is not None else None,
            deactivated_at=from_epoch(item.deactivated_at) if item.deactivated_at is not None else None,
            attempts=item.attempts,
            last_error=item.last_error,
            waiting_for_use_since=from_epoch(item.postponed_at) if item.postponed_at is not None else None,
            rotation_reason=item.reason,
            exposed_at=from_epoch(item.exposed_at) if item.exposed_at is not None else None,
            restored=restore_row(item),
        )
        for item in sorted(items, key=lambda item: item.started_at)
    ]


def _next(decision: Decision, items: Sequence[ExpiryItem], now: datetime, deactivate_days: int) -> dict[str, object]:
    """What happens next and when; `overdue` and `problem` where a person should look."""
    if any(item.state in JOURNAL_STATES for item in items):
        return {"next_action": "finish or undo an interrupted rotation", "next_action_at": now}
    key = decision.key
    if decision.action is Action.ROTATE:
        assert key is not None
        assert decision.due_at is not None
        return {
            "next_action": f"rotate key {key.key_id}",
            "next_action_at": now,
            "overdue": decision.due_at < now - GRACE,
        }
    if decision.action is Action.NOT_DUE:
        assert key is not None
        return {"next_action": f"rotate key {key.key_id}", "next_action_at": decision.due_at}
    if decision.action is Action.PENDING:
        assert key is not None
        item = next(i for i in items if i.old_key_id == key.key_id and i.state in (State.SCHEDULED, State.FAILED))
        if item.state is State.FAILED:
            return {
                "next_action": f"none: deletion of old key {key.key_id} given up after {item.attempts} "
                "attempt(s); delete it by hand",
                "problem": True,
            }
        due = from_epoch(item.expires_at) if item.expires_at is not None else now
        what = f"delete old key {key.key_id}"
        if deactivate_days and item.deactivated_at is None:
            what = f"make old key {key.key_id} inactive (deleted {deactivate_days} day(s) later)"
        if item.verify_use and item.deactivated_at is None:
            what += " once the new key is in use"
            if item.postponed_at is not None:
                what += " (new key not yet in use: retirement postponed)"
        return {"next_action": what, "next_action_at": due, "overdue": due < now - GRACE}
    return {"next_action": "none: skipped (see reason)"}


def managed_row(scope: AccountScope, user: IamUser, data: AccountData, now: datetime) -> ReportRow:
    return judge_managed(scope, user, data, now)[1]


def judge_managed(scope: AccountScope, user: IamUser, data: AccountData, now: datetime) -> tuple[Decision, ReportRow]:
    """The policy's decision for a managed user and the row made of it (`ikr explain` shows both)."""
    items = [item for item in data.items if item.user_name == user.name]
    pending = pending_old_keys(items, now).get(user.name, [])
    decision = decide(user, scope, now, pending, data.delivery_prefix)
    exempt = decision.exempt and not any(item.state in JOURNAL_STATES for item in items)
    after = exempt_next(decision) if exempt else _next(decision, items, now, data.deactivate_days)
    return decision, ReportRow(
        kind=RowKind.MANAGED,
        **_account_fields(scope),
        account_state=AccountState.OPTED_IN,
        account_detail=opted_in_detail(scope),
        user=user.name,
        email=decision.email,
        keys=_key_rows(user.keys, data.credentials, user.name, now),
        rotate_after=policy_days(decision.rotate_after),
        delete_after=policy_days(decision.delete_after),
        decision=decision.action,
        delivery=str(decision.delivery),
        verify_use=decision.verify_use,
        next_action=str(after["next_action"]),
        next_action_at=after.get("next_action_at"),
        due_at=decision.due_at,
        overdue=bool(after.get("overdue", False)),
        problem=decision.bad_input or bool(after.get("problem", False)),
        reason=decision.reason,
        pending=_pending_rows(items),
        warnings=list(decision.warnings),
        exemption=exemption_row(decision, now),
        reminders=reminder_rows(data.reminders, user.name),
    )


def unmanaged_row(scope: AccountScope, user: IamUser, credentials: CredentialReport | None, now: datetime) -> ReportRow:
    limit = timedelta(days=scope.rotate_after.days)
    old = [key for key in user.keys if key.status is KeyStatus.ACTIVE and now - key.created >= limit]
    judged = min(old, key=lambda key: key.created) if old else None
    what = (
        f"active key {judged.key_id} is {(now - judged.created).days} days old"
        if judged
        else "the credential report shows an active key"
    )
    return ReportRow(
        kind=RowKind.UNMANAGED_RISK,
        **_account_fields(scope),
        account_state=AccountState.OPTED_IN,
        account_detail=opted_in_detail(scope),
        user=user.name,
        keys=_key_rows(user.keys, credentials, user.name, now),
        rotate_after=policy_days(scope.rotate_after),
        delete_after=policy_days(scope.delete_after),
        next_action="none: ikr manages only users tagged IKR:EMAIL (tag the user, or rotate the key by hand)",
        due_at=judged.created + limit if judged else None,
        reason=f"not tagged IKR:EMAIL: {what}, older than the policy's {scope.rotate_after.days} days "
        f"({scope.rotate_after.source})",
    )


def account_rows(scope: AccountScope, data: AccountData, now: datetime) -> list[ReportRow]:
    """An opted-in account's rows: every managed user, then every untagged user at risk."""
    rows = [managed_row(scope, user, data, now) for user in sorted(data.managed, key=lambda u: u.name)]
    if not rows:
        rows.append(
            ReportRow(
                kind=RowKind.NO_MANAGED_USERS,
                **_account_fields(scope),
                account_state=AccountState.OPTED_IN,
                account_detail=opted_in_detail(scope),
                next_action="none: no user is tagged IKR:EMAIL",
                rotate_after=policy_days(scope.rotate_after),
                delete_after=policy_days(scope.delete_after),
            )
        )
    rows.extend(
        unmanaged_row(scope, user, data.credentials, now) for user in sorted(data.unmanaged, key=lambda u: u.name)
    )
    return rows


def account_summary(
    scope: AccountScope, state: AccountState, detail: str, rows: Sequence[ReportRow], notes: Sequence[str] = ()
) -> AccountRow:
    managed = [row for row in rows if row.kind is RowKind.MANAGED]
    return AccountRow(
        **_account_fields(scope),
        state=state,
        detail=detail,
        managed_users=len(managed),
        due_now=sum(1 for row in managed if row.decision is Action.ROTATE),
        overdue=sum(1 for row in rows if row.overdue),
        problems=sum(1 for row in rows if row.problem),
        unmanaged_risk=sum(1 for row in rows if row.kind is RowKind.UNMANAGED_RISK),
        notes=list(notes),
    )


def summarize(accounts: Sequence[AccountRow], rows: Sequence[ReportRow]) -> Summary:
    unreachable = sum(1 for a in accounts if a.state in (AccountState.UNREACHABLE, AccountState.BAD_TAGS))
    return Summary(
        accounts=len(accounts),
        opted_in=sum(1 for a in accounts if a.state is AccountState.OPTED_IN),
        not_opted_in=sum(1 for a in accounts if a.state is AccountState.NOT_OPTED_IN),
        unreachable=unreachable,
        not_deployed=sum(1 for a in accounts if a.state is AccountState.NOT_DEPLOYED),
        managed_users=sum(a.managed_users for a in accounts),
        due_now=sum(a.due_now for a in accounts),
        overdue=sum(a.overdue for a in accounts),
        pending_deletions=sum(
            1 for row in rows for item in row.pending if item.state in (State.SCHEDULED.value, State.FAILED.value)
        ),
        unmanaged_risk=sum(a.unmanaged_risk for a in accounts),
        failures=sum(1 for row in rows if row.problem and row.kind in (RowKind.MANAGED, RowKind.UNMANAGED_RISK))
        + unreachable,
    )


_STATE_ORDER = (
    AccountState.OPTED_IN,
    AccountState.UNREACHABLE,
    AccountState.BAD_TAGS,
    AccountState.NOT_DEPLOYED,
    AccountState.NOT_OPTED_IN,
)


def assemble(
    now: datetime,
    standalone: bool,
    rotate_default: int,
    delete_default: int,
    accounts: Sequence[AccountRow],
    rows: Sequence[ReportRow],
) -> Report:
    # Accounts ikr works first, then those it cannot, then those not opted in; each by id.
    ordered = sorted(accounts, key=lambda a: (_STATE_ORDER.index(a.state), a.account_id))
    order = {a.account_id: index for index, a in enumerate(ordered)}
    return Report(
        generated_at=now,
        standalone=standalone,
        default_rotate_after_days=rotate_default,
        default_delete_after_days=delete_default,
        summary=summarize(ordered, rows),
        accounts=list(ordered),
        rows=sorted(rows, key=lambda r: (order.get(r.account_id, 0), r.kind is RowKind.UNMANAGED_RISK, r.user or "")),
    )
