"""Retirement of one old key whose expiry item was removed from the table.

Acts only on `scheduled` items whose time has passed (removed by TTL, by the rotator's sweep, or
seen after `expires_at`); an item someone deleted by hand too early is put back. The old key is
retired only while the user has another active key, and an already deleted key counts as done.

Retirement: first GetAccessKeyLastUsed, and one reminder to the user when the old key was used
after the new one was mailed; then, with DEACTIVATE_BEFORE_DELETE_DAYS > 0, the key is made
Inactive and its item comes back for the deletion that many days later (the item is written back
before the key changes, so a crash in between never loses track of the key); otherwise, or on the
second pass, it is deleted. A failure puts the item back RETRY_AFTER_MINS later with attempts + 1;
at IKR_MAX_DESTROY_ATTEMPTS it stays as `failed` (no TTL, no more retries) and the administrator
is told once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from central import aws
from central.admin import AdminNotifier
from central.delivery import recorded_delivery
from central.errors import DeliveryError, IkrError, aws_reason
from central.expiry_table import ExpiryItem, ExpiryTable, State, epoch, from_epoch
from central.inventory import access_keys
from central.mail_content import (
    LastUse,
    OldKeyStillUsedNotice,
    SwitchPendingNotice,
    old_key_still_used_mail,
    switch_pending_mail,
)
from central.mailers.base import Mailer
from central.model import AccessKey, KeyStatus
from central.notify import Event, Notice, Notifier, NullNotifier
from central.secrets import UserKeyStore
from central.services import Services
from central.sessions import SessionBroker

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient

logger = Logger(service="ikr")
_LOOK_AGAIN = timedelta(days=1)
_NAG_EVERY = timedelta(hours=23)  # "once a day at most", with room for a sweep that ran a little early


class Destroyed(StrEnum):
    DELETED = "deleted"
    DEACTIVATED = "deactivated"  # made Inactive; the item is back for the deletion
    POSTPONED = "postponed"  # the new key is not in use yet (IKR:VERIFY_USE): back in a day, not a failure
    ALREADY_GONE = "already-gone"
    KEPT_ONLY_KEY = "kept-only-key"
    RETRY = "retry-scheduled"
    GAVE_UP = "gave-up"  # attempts exhausted: item kept as `failed`, administrator told
    TOO_EARLY = "put-back-too-early"
    IGNORED = "ignored"


@dataclass(frozen=True)
class DestroyResult:
    outcome: Destroyed
    detail: str
    reminded: bool = False  # the user was told the old key was still in use


@dataclass(frozen=True)
class DestroyContext:
    broker: SessionBroker
    table: ExpiryTable
    now: datetime
    retry_after: timedelta
    max_attempts: int = 10
    deactivate_days: int = 0
    grace_days: int = 14  # VERIFY_USE_GRACE_DAYS
    mailer: Mailer | None = None  # for the last-use reminder; None: the reminder is only logged
    admin: AdminNotifier | None = None
    notifier: Notifier = field(default_factory=NullNotifier)

    @classmethod
    def from_services(cls, services: Services) -> DestroyContext:
        settings = services.settings
        return cls(
            broker=services.broker,
            table=services.table,
            now=services.clock(),
            retry_after=timedelta(minutes=settings.RETRY_AFTER_MINS),
            max_attempts=settings.IKR_MAX_DESTROY_ATTEMPTS,
            deactivate_days=settings.DEACTIVATE_BEFORE_DELETE_DAYS,
            grace_days=settings.VERIFY_USE_GRACE_DAYS,
            mailer=services.mailer,
            admin=services.admin,
            notifier=services.notifier,
        )


def destroy(ctx: DestroyContext, item: ExpiryItem, removed_by_ttl: bool = False) -> DestroyResult:
    where: dict[str, object] = {"account_id": item.account_id, "user": item.user_name, "old_key_id": item.old_key_id}
    if item.state is not State.SCHEDULED:
        return DestroyResult(Destroyed.IGNORED, f"{item.where}: {item.state.value} item removed; nothing to do")
    if item.expires_at is None:
        return DestroyResult(Destroyed.IGNORED, f"{item.where}: scheduled item without expires_at; not acted on")
    if not _expired(item, ctx.now, removed_by_ttl):
        ctx.table.put(item)
        logger.warning("expiry item removed before its time; put back", extra=where)
        return DestroyResult(Destroyed.TOO_EARLY, f"{item.where}: removed before its deletion time; put back, key kept")
    try:
        result = _retire(ctx, item)
    except (IkrError, ClientError, BotoCoreError) as exc:
        return _failed_attempt(ctx, item, str(exc) if isinstance(exc, IkrError) else aws_reason(exc))
    logger.info(f"old key {result.outcome.value}: {result.detail}", extra={**where, "outcome": result.outcome.value})
    event = _EVENTS.get(result.outcome)
    if event is not None:
        ctx.notifier.notify(
            Notice.about(
                item,
                event,
                f"ikr: {result.detail}",
            )
        )
    return result


_EVENTS = {
    Destroyed.DELETED: Event.OLD_KEY_RETIRED,
    Destroyed.ALREADY_GONE: Event.OLD_KEY_RETIRED,
    Destroyed.DEACTIVATED: Event.OLD_KEY_DEACTIVATED,
}


def _expired(item: ExpiryItem, now: datetime, removed_by_ttl: bool) -> bool:
    assert item.expires_at is not None
    if removed_by_ttl or item.expires_at <= epoch(now):
        return True
    # The sweep records its own clock (which may be a planned `--now`) before removing.
    return item.swept_at is not None and item.swept_at >= item.expires_at


def _retire(ctx: DestroyContext, item: ExpiryItem) -> DestroyResult:
    session = ctx.broker.session_for(item.account_id)
    iam = aws.iam(session)
    try:
        keys = access_keys(iam, item.user_name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "NoSuchEntity":
            raise
        keys = ()  # the user itself is gone
    old = next((key for key in keys if key.key_id == item.old_key_id), None)
    others_active = [k for k in keys if k.key_id != item.old_key_id and k.status is KeyStatus.ACTIVE]
    if old is None:
        outcome = DestroyResult(Destroyed.ALREADY_GONE, f"{item.where}: old key was already deleted")
    elif not others_active:
        # Never leave a user without a working key: the new one was deleted or deactivated by
        # someone. With one key left, the next rotation run rotates it again; with an inactive
        # second key, a person decides (the run reports the user's two keys).
        logger.error(
            "old key is the user's only active key; kept",
            extra={"account_id": item.account_id, "user": item.user_name, "old_key_id": item.old_key_id},
        )
        return DestroyResult(
            Destroyed.KEPT_ONLY_KEY,
            f"{item.where}: it is the user's only active key (the new key is gone or inactive); kept",
        )
    else:
        deactivate = ctx.deactivate_days > 0 and item.deactivated_at is None and old.status is KeyStatus.ACTIVE
        forced = False
        if item.verify_use and item.deactivated_at is None and not _new_key_in_use(iam, item):
            retire_by = _retire_by(ctx, item)
            if ctx.now < retire_by:
                return _postpone(ctx, item, retire_by)
            forced = True
        reminded = _remind_if_still_used(ctx, iam, item, old, deactivate)
        outcome = _deactivate(ctx, iam, item, reminded) if deactivate else _delete(iam, item, reminded)
        if forced:
            _tell_retired_unused(ctx, item, "made inactive" if deactivate else "deleted")
        if deactivate:
            return outcome
    if not ctx.table.for_user(item.account_id, item.user_name):
        UserKeyStore(aws.ssm(session), item.account_id).delete(item.user_name)
    return outcome


def _new_key_in_use(iam: IAMClient, item: ExpiryItem) -> bool:
    """Has the new key been used since it was made? (IAM's record lags by up to hours: a miss waits a day.)"""
    if item.new_key_id is None:
        return True  # nothing to verify against: keep the old behaviour
    try:
        answer = iam.get_access_key_last_used(AccessKeyId=item.new_key_id).get("AccessKeyLastUsed", {})
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "NoSuchEntity":
            raise
        return False  # the new key is gone: never retire the old one on its account
    used_at = answer.get("LastUsedDate")
    return used_at is not None and used_at >= from_epoch(item.started_at)


def _retire_by(ctx: DestroyContext, item: ExpiryItem) -> datetime:
    promised = item.delete_at if item.delete_at is not None else item.expires_at
    assert promised is not None
    return from_epoch(promised) + timedelta(days=ctx.grace_days)


def _postpone(ctx: DestroyContext, item: ExpiryItem, retire_by: datetime) -> DestroyResult:
    """Back in a day, attempts untouched; the owner hears at most once a day."""
    tell = item.postponed_at is None or ctx.now - from_epoch(item.postponed_at) >= _NAG_EVERY
    later = item.model_copy(
        update={
            "expires_at": epoch(min(ctx.now + _LOOK_AGAIN, retire_by)),
            "swept_at": None,
            "postponed_at": epoch(ctx.now) if tell else item.postponed_at,
        }
    )
    ctx.table.put(later)
    detail = (
        f"{item.where}: the new key {item.new_key_id} has not been used yet; old key kept, looked at again in a day "
        f"(retired anyway at {retire_by:%Y-%m-%d %H:%M} UTC)"
    )
    if tell:
        _tell_switch_pending(ctx, item, retire_by, forced=False, action="deleted")
        ctx.notifier.notify(
            Notice.about(
                item,
                Event.RETIREMENT_POSTPONED,
                f"ikr: {detail}",
                at=retire_by,
            )
        )
    return DestroyResult(Destroyed.POSTPONED, detail)


def _tell_retired_unused(ctx: DestroyContext, item: ExpiryItem, action: str) -> None:
    retire_by = _retire_by(ctx, item)
    _tell_switch_pending(ctx, item, retire_by, forced=True, action=action)
    lines = [
        f"The new key {item.new_key_id} of IAM user {item.user_name} in account {item.account_id} was never used; "
        f"the grace time ended at {retire_by:%Y-%m-%d %H:%M} UTC and the old key {item.old_key_id} was {action}.",
    ]
    if ctx.admin is not None:
        ctx.admin.notify("old key retired before the switch", lines, account_id=item.account_id, user=item.user_name)


def _tell_switch_pending(ctx: DestroyContext, item: ExpiryItem, retire_by: datetime, forced: bool, action: str) -> None:
    if ctx.mailer is None or item.email is None or item.new_key_id is None:
        return
    notice = SwitchPendingNotice(
        account_id=item.account_id,
        user=item.user_name,
        email=item.email,
        new_key_id=item.new_key_id,
        old_key_id=item.old_key_id,
        where=recorded_delivery(item.delivery).where,
        retire_by=retire_by,
        forced=forced,
        action=action,
    )
    try:
        ctx.mailer.send(switch_pending_mail(notice))
    except DeliveryError as exc:
        logger.error(
            "owner not told about the switch",
            extra={"account_id": item.account_id, "user": item.user_name, "reason": str(exc)},
        )


def _deactivate(ctx: DestroyContext, iam: IAMClient, item: ExpiryItem, reminded: bool) -> DestroyResult:
    deletes_at = ctx.now + timedelta(days=ctx.deactivate_days)
    later = item.model_copy(
        update={
            "deactivated_at": epoch(ctx.now),
            "expires_at": epoch(deletes_at),
            "swept_at": None,
            "reminded_at": epoch(ctx.now) if reminded else item.reminded_at,
        }
    )
    ctx.table.put(later)  # first: should the process die now, the item still leads to the key
    iam.update_access_key(UserName=item.user_name, AccessKeyId=item.old_key_id, Status="Inactive")
    return DestroyResult(
        Destroyed.DEACTIVATED,
        f"{item.where}: old key made inactive; deleted at {deletes_at:%Y-%m-%d %H:%M} UTC",
        reminded=reminded,
    )


def _delete(iam: IAMClient, item: ExpiryItem, reminded: bool) -> DestroyResult:
    try:
        iam.delete_access_key(UserName=item.user_name, AccessKeyId=item.old_key_id)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "NoSuchEntity":
            raise
        return DestroyResult(Destroyed.ALREADY_GONE, f"{item.where}: old key was already deleted", reminded=reminded)
    return DestroyResult(Destroyed.DELETED, f"{item.where}: old key deleted", reminded=reminded)


def _remind_if_still_used(
    ctx: DestroyContext, iam: IAMClient, item: ExpiryItem, old: AccessKey, deactivating: bool
) -> bool:
    """One reminder per item when the old key was used after the new key was mailed."""
    if item.reminded_at is not None or item.email is None:
        return False
    answer = iam.get_access_key_last_used(AccessKeyId=old.key_id).get("AccessKeyLastUsed", {})
    used_at = answer.get("LastUsedDate")
    if used_at is None or used_at <= from_epoch(item.started_at):
        return False
    last_use = LastUse(at=used_at, service=answer.get("ServiceName", "?"), region=answer.get("Region", "?"))
    notice = OldKeyStillUsedNotice(
        account_id=item.account_id,
        user=item.user_name,
        email=item.email,
        old_key_id=item.old_key_id,
        new_key_id=item.new_key_id,
        last_use=last_use,
        action="made inactive" if deactivating else "deleted",
        deleted_at=ctx.now + timedelta(days=ctx.deactivate_days) if deactivating else None,
    )
    where = {"account_id": item.account_id, "user": item.user_name, "old_key_id": item.old_key_id}
    logger.warning(
        "old key still used after the new key was mailed",
        extra={**where, "last_used": used_at.isoformat(), "service": last_use.service, "region": last_use.region},
    )
    ctx.notifier.notify(
        Notice.about(
            item,
            Event.OLD_KEY_STILL_USED,
            f"ikr: {item.where} was still used after the new key was mailed: {last_use.service} in "
            f"{last_use.region} at {used_at:%Y-%m-%d %H:%M} UTC; it is {notice.action} now",
            at=used_at,
            details={"service": last_use.service, "region": last_use.region},
        )
    )
    if ctx.mailer is None:
        return False
    try:
        ctx.mailer.send(old_key_still_used_mail(notice))
    except DeliveryError as exc:
        # A reminder is a courtesy: its failure never holds back the retirement the mail promised.
        logger.error("last-use reminder not mailed", extra={**where, "reason": str(exc)})
        return False
    return True


def _failed_attempt(ctx: DestroyContext, item: ExpiryItem, reason: str) -> DestroyResult:
    where = {"account_id": item.account_id, "user": item.user_name, "old_key_id": item.old_key_id}
    attempts = item.attempts + 1
    if attempts >= ctx.max_attempts:
        failed = item.model_copy(
            update={
                "state": State.FAILED,
                "attempts": attempts,
                "expires_at": None,  # no TTL: the item stays for people to look at
                "swept_at": None,
                "failed_at": epoch(ctx.now),
                "last_error": reason[:500],
            }
        )
        ctx.table.put(failed)  # if this fails too, the handler reports the record as failed
        lines = [
            f"ikr gave up deleting old access key {item.old_key_id} of IAM user {item.user_name} in account "
            f"{item.account_id} after {attempts} attempts.",
            f"Last error: {reason}",
            "The key is still there. Fix the cause, then delete the key yourself, or set the expiry item's "
            "state back to `scheduled` with an `expires_at` in the past (see the README, Operations).",
        ]
        if ctx.admin is not None:
            ctx.admin.notify("destruction given up", lines, **where, attempts=attempts)
        else:
            logger.error("destruction given up", extra={**where, "attempts": attempts, "reason": reason})
        ctx.notifier.notify(
            Notice.about(
                item,
                Event.DESTRUCTION_GIVEN_UP,
                " ".join(lines[:2]),
                details={"attempts": attempts, "last_error": reason},
            )
        )
        return DestroyResult(Destroyed.GAVE_UP, f"{item.where}: {reason}; gave up after {attempts} attempts")
    retry = item.model_copy(
        update={
            "attempts": attempts,
            "expires_at": epoch(ctx.now + ctx.retry_after),
            "swept_at": None,
            "last_error": reason[:500],
        }
    )
    ctx.table.put(retry)  # if this fails too, the handler reports the record as failed
    logger.error("destruction failed; retry scheduled", extra={**where, "reason": reason, "attempts": attempts})
    return DestroyResult(Destroyed.RETRY, f"{item.where}: {reason}; retry #{attempts} scheduled")


# CloudWatch metric of each outcome, as the destructor Lambda emits them (IGNORED has none).
OUTCOME_METRICS = {
    Destroyed.DELETED: "KeysDestroyed",
    Destroyed.ALREADY_GONE: "KeysDestroyed",
    Destroyed.DEACTIVATED: "KeysDeactivated",
    Destroyed.RETRY: "DestructionRetries",
    Destroyed.GAVE_UP: "DestructionsGivenUp",
    Destroyed.KEPT_ONLY_KEY: "OnlyKeysKept",
    Destroyed.TOO_EARLY: "ItemsPutBack",
    Destroyed.POSTPONED: "RetirementsPostponed",
}
