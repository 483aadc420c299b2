"""`ikr restore` (issue 18.4): roll a rotation back far enough that the old key works again.

The old key of a `scheduled` expiry item, made Inactive by the retirement's DEACTIVATE_BEFORE_DELETE
step (or by anything else, an exposure included, which needs `force`), is made Active again and its
retirement starts over `days` later: the item's `expires_at` (the TTL attribute the sweep and the
destructor go by) moves to that time and its `deactivated_at` is cleared, so at the new time the
retirement runs as it would have (deactivated first with DEACTIVATE_BEFORE_DELETE_DAYS, then deleted).

Same journal, no second path to a key:
- the item is written first, with one conditional write on the item as it was read (state, expires_at,
  swept_at, the destructor's answer): the sweep, TTL and the destructor act only on an item whose time
  has passed, so once the write is in, none of them can take the key; if one of them got there first
  the write fails and the restore is refused ("changed meanwhile");
- a destructor that decided to deactivate and has not told yet (its notice claim is not written) may
  still be changing the key: refused until it is done;
- then the key is made Active. A crash between the two leaves an item that says restored: the same
  restore again finds it and only activates the key.
At least once: the new time is `base + days`, with `base` the retirement time when this window's first
restore came, kept on the item, so a repeated restore lands on the same time and never postpones twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger

from central.aws.errors import AwsNotFound
from central.aws.expiry_item import ExpiryItem, Restored, State, epoch, from_epoch
from central.aws.expiry_table import LeaseConflict
from central.aws.member import MemberAccount
from central.aws.restore_table import RestoreTable
from central.collaborators import Services
from central.domain.bounds import MAX_DAYS
from central.domain.errors import IkrError, UsageError
from central.domain.model import AccessKey, KeyStatus
from central.notify.notice import Event, Notice
from central.retirement.outcome import Destroyed

logger = Logger(service="ikr")

# A rotation's journal states (central.rotation.lease owns the lease; a use case never imports another's).
_ROTATING = (State.STARTED, State.KEY_CREATED, State.DELIVERED)


@dataclass(frozen=True)
class RestoreRequest:
    account_id: str
    user: str
    days: int | None = None  # None: DELETE_AFTER_DAYS
    reason: str | None = None
    by: str = "?"
    force: bool = False


@dataclass(frozen=True)
class RestoreResult:
    account_id: str
    user: str
    key_id: str
    until: datetime  # the old key's retirement starts then
    activated: bool  # this call made the key Active (False: it was Active already)
    postponed: bool  # this call moved the retirement (False: a repeat found it done)

    @property
    def line(self) -> str:
        what = "re-activated" if self.activated else "is active"
        moved = "postponed to" if self.postponed else "already postponed to"
        return (
            f"restored old key {self.key_id} of {self.user} in account {self.account_id}: {what}; its retirement "
            f"{moved} {self.until:%Y-%m-%d %H:%M} UTC"
        )


def restore(services: Services, request: RestoreRequest) -> RestoreResult:
    """Refusals are `UsageError`s (what was asked cannot be done); a race or an AWS failure an `IkrError`."""
    table, now = services.table, services.clock()
    days = request.days if request.days is not None else services.settings.DELETE_AFTER_DAYS
    items = table.for_user(request.account_id, request.user)
    busy = [item for item in items if item.state in _ROTATING]
    if busy:
        raise IkrError(
            f"{busy[0].where}: rotation in progress by run {busy[0].run_id or '?'}; restore once it is finished "
            "(or undone: `ikr end-lease` for a dead run, then `ikr rotate`)"
        )
    member = MemberAccount(services.broker.session_for(request.account_id), request.account_id)
    item = _pending(services, member, request, items)
    keys = {key.key_id: key for key in _keys(member, request)}
    old = keys.get(item.old_key_id)
    if old is None:
        raise UsageError(f"{item.where}: the old key was already deleted (not by ikr's destructor); nothing to restore")
    if item.exposed_at is not None and not request.force:
        raise UsageError(
            f"{item.where}: this key was exposed (recorded {from_epoch(item.exposed_at):%Y-%m-%d %H:%M} UTC); "
            "restoring it puts a leaked key back in use: add --force if that is what you want"
        )
    handling = item.handling
    if handling is not None and handling.noticed_at is None and handling.outcome == Destroyed.DEACTIVATED.value:
        raise IkrError(f"{item.where}: the destructor is retiring this key right now; try again in a minute")
    updated, postponed = _restored(item, request, days, now)
    if postponed:
        try:
            RestoreTable(table).postpone(item, updated)
        except LeaseConflict:
            raise IkrError(
                f"{item.where}: the item changed while it was being restored (swept, retired or restored by "
                "someone else meanwhile); look again"
            ) from None
    activated = old.status is not KeyStatus.ACTIVE
    if activated:
        try:
            member.iam.activate_access_key(item.user_name, item.old_key_id)
        except AwsNotFound:
            raise IkrError(f"{item.where}: the old key was deleted meanwhile; nothing to restore") from None
    assert updated.restored is not None
    result = RestoreResult(
        item.account_id, item.user_name, item.old_key_id, from_epoch(updated.restored.until), activated, postponed
    )
    if postponed or activated:
        _tell(services, updated, result)
    return result


def _pending(services: Services, member: MemberAccount, request: RestoreRequest, items: list[ExpiryItem]) -> ExpiryItem:
    """The user's one old key waiting for its retirement, or the refusal that says why there is none."""
    where = f"account {request.account_id} user {request.user}"
    pending = sorted(
        (item for item in items if item.state is State.SCHEDULED and not item.unrecorded),
        key=lambda item: item.started_at,
    )
    if pending:
        return pending[-1]  # the newest rotation's old key (an older one is deleted sooner anyway)
    _keys(member, request)  # an unknown user is named as such first
    given_up = [item for item in items if item.state is State.FAILED]
    if given_up:
        raise UsageError(
            f"{given_up[-1].where}: its deletion was given up (state failed), so it is kept and never deleted by "
            "ikr: there is no deletion to postpone"
        )
    retired = RestoreTable(services.table).retired_for_user(request.account_id, request.user)
    if retired:
        last = max(retired, key=lambda item: item.handling.at if item.handling else 0)
        when = f" at {from_epoch(last.handling.at):%Y-%m-%d %H:%M} UTC" if last.handling else ""
        raise UsageError(f"{last.where}: the old key was already deleted{when}; it cannot be restored")
    raise UsageError(
        f"{where}: no old key is waiting for deletion (never rotated, or deleted long ago); nothing to restore"
    )


def _keys(member: MemberAccount, request: RestoreRequest) -> tuple[AccessKey, ...]:
    try:
        return member.iam.access_keys(request.user)
    except AwsNotFound:
        raise UsageError(
            f"account {request.account_id} has no IAM user {request.user} (or is not an account ikr reaches)"
        ) from None


def _restored(item: ExpiryItem, request: RestoreRequest, days: int, now: datetime) -> tuple[ExpiryItem, bool]:
    """The item as restored, and whether that is a change (False: this restore was done already)."""
    assert item.expires_at is not None
    previous = item.restored
    repeat = previous is not None and item.deactivated_at is None and previous.until == item.expires_at
    base = previous.base if repeat and previous is not None else max(item.expires_at, epoch(now))
    until = epoch(from_epoch(base) + timedelta(days=days))
    if repeat and previous is not None and previous.until == until:
        return item, False
    restored = Restored(
        at=epoch(now),
        by=request.by,
        reason=request.reason,
        days=days,
        base=base,
        until=until,
        forced=request.force and item.exposed_at is not None,
    )
    updated = item.model_copy(
        update={"expires_at": until, "deactivated_at": None, "swept_at": None, "restored": restored}
    )
    return updated, True


def _tell(services: Services, item: ExpiryItem, result: RestoreResult) -> None:
    restored = item.restored
    assert restored is not None
    logger.info(
        result.line,
        extra={"account_id": item.account_id, "user": item.user_name, "old_key_id": item.old_key_id, "by": restored.by},
    )
    details: dict[str, object] = {"by": restored.by, "days": restored.days, "activated": result.activated}
    if restored.reason:
        details["reason"] = restored.reason
    if restored.forced:
        details["forced"] = True
    services.notifier.notify(
        Notice.about(item, Event.RESTORED, f"ikr: {result.line}", at=result.until, details=details)
    )


# -- the rotator Lambda's `{"ikr": "restore", ...}` event ---------------------------------------------------


def request_from_event(event: dict[str, Any], default_by: str) -> RestoreRequest:
    """The event's fields, checked; a UsageError naming the field that is wrong."""
    account, user, days = event.get("account"), event.get("user"), event.get("days")
    if not (isinstance(account, str) and len(account) == 12 and account.isascii() and account.isdigit()):
        raise UsageError(f"restore event: account {account!r} is not a 12-digit AWS account id")
    if not (isinstance(user, str) and user):
        raise UsageError(f"restore event: user {user!r} is not an IAM user name")
    if days is not None and not (isinstance(days, int) and not isinstance(days, bool) and 1 <= days <= MAX_DAYS):
        raise UsageError(f"restore event: days {days!r} is not a whole number from 1 to {MAX_DAYS}")
    reason, by, force = event.get("reason"), event.get("by"), event.get("force", False)
    if reason is not None and not isinstance(reason, str):
        raise UsageError(f"restore event: reason {reason!r} is not text")
    if not isinstance(force, bool):
        raise UsageError(f"restore event: force {force!r} is not true or false")
    return RestoreRequest(account, user, days, reason, str(by) if by else default_by, force)


def restore_from_event(services: Services, event: dict[str, Any], default_by: str) -> dict[str, Any]:
    """The Lambda's answer: never raises for a refusal (a retry would be refused again), says why instead."""
    try:
        result = restore(services, request_from_event(event, default_by))
    except UsageError as exc:
        logger.warning("restore refused", extra={"reason": str(exc)})
        return {"restored": False, "refused": str(exc)}
    except IkrError as exc:
        logger.error("restore failed", extra={"reason": str(exc)})
        return {"restored": False, "failed": str(exc)}
    return {
        "restored": True,
        "account": result.account_id,
        "user": result.user,
        "old_key_id": result.key_id,
        "until": result.until.isoformat(),
        "activated": result.activated,
        "postponed": result.postponed,
        "text": result.line,
    }
