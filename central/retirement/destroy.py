"""Retirement of one old key whose expiry item was removed from the table.

Acts only on `scheduled` items whose time has passed (removed by TTL, by the rotator's sweep, or
seen after `expires_at`); an item someone deleted by hand too early is put back. The old key is
retired only while the user has another active key, and an already deleted key counts as done.

Retirement: first GetAccessKeyLastUsed, and one reminder to the user when the old key was used
after the new one was mailed; then, with DEACTIVATE_BEFORE_DELETE_DAYS > 0, the key is made
Inactive and its item comes back for the deletion that many days later; otherwise, or on the
second pass, it is deleted. A failure puts the item back RETRY_AFTER_MINS later with attempts + 1;
at IKR_MAX_DESTROY_ATTEMPTS it stays as `failed` (no TTL, no more retries) and the administrator
is told once.

Every stream record arrives at least once, and two invocations may hold the same record. So each
handling decides, then writes its answer to the record before it changes anything: the item put
back, or a `retired` tombstone, conditionally where nothing is and naming the record (`handling`).
Only then does the key change; then the notices are claimed with one more conditional write and
sent by the one handling that got the claim. A second delivery finds the answer to its own record
and only finishes the key change (a crash in between); an answer to another record, or any other
item at the key, means someone else has this key in hand: the record is ignored.

An `unrecorded` item (a key ikr never recorded, made inactive and announced by the rotation) is
deleted only if the key is still Inactive; re-activated, it is kept for good; the user's encryption
key is never deleted because of it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from central.aws import clients as aws
from central.aws.expiry_table import (
    KEPT_SUFFIX,
    TOMBSTONE_LIFE,
    ExpiryItem,
    ExpiryTable,
    Handling,
    State,
    epoch,
    from_epoch,
)
from central.aws.sessions import SessionBroker
from central.aws.ssm_secrets import UserKeyStore
from central.collaborators import Services
from central.domain.errors import IkrError, aws_reason
from central.domain.inventory import access_keys
from central.domain.model import AccessKey, KeyStatus
from central.notify.admin import AdminNotifier
from central.notify.mailers.base import Mailer
from central.notify.webhook import Event, Notice, Notifier, NullNotifier
from central.retirement import notices as retirement_notices

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_iam import IAMClient

logger = Logger(service="ikr")
_LOOK_AGAIN = timedelta(days=1)
_NAG_EVERY = timedelta(hours=23)  # "once a day at most", with room for a sweep that ran a little early
_FAILURES = (IkrError, ClientError, BotoCoreError)


class Destroyed(StrEnum):
    DELETED = "deleted"
    DEACTIVATED = "deactivated"  # made Inactive; the item is back for the deletion
    POSTPONED = "postponed"  # the new key is not in use yet (IKR:VERIFY_USE): back in a day, not a failure
    ALREADY_GONE = "already-gone"
    KEPT_ONLY_KEY = "kept-only-key"
    KEPT_REACTIVATED = "kept-reactivated"  # an unrecorded key someone made Active again: ikr leaves it alone
    RETRY = "retry-scheduled"
    GAVE_UP = "gave-up"  # attempts exhausted: item kept as `failed`, administrator told
    TOO_EARLY = "put-back-too-early"
    IGNORED = "ignored"
    HANDLED = "already-handled"  # another delivery of the same record did (or does) the work and the telling


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


def record_identity(item: ExpiryItem) -> str:
    """A stream record's identity when it has no eventID: its old image (a redelivery carries the same)."""
    image = json.dumps(item.model_dump(mode="json"), sort_keys=True)
    return "image-" + hashlib.sha256(image.encode()).hexdigest()[:24]


def destroy(
    ctx: DestroyContext, item: ExpiryItem, removed_by_ttl: bool = False, event_id: str | None = None
) -> DestroyResult:
    """Answer the REMOVE record `event_id` (its old image is `item`) exactly once, however often it comes."""
    ignored = _not_acted_on(item)
    if ignored is not None:
        return ignored
    event = event_id or record_identity(item)
    found = ctx.table.handled(item)
    if found is not None:
        if found.handling is not None and found.handling.event == event:
            return _finish(ctx, item, found)  # this record again (Lambda's retry, a re-read shard, a twin)
        return _elsewhere(item, found)
    item = item.model_copy(update={"handling": None})  # the image may carry the previous record's answer
    if not _expired(item, ctx.now, removed_by_ttl):
        return _settle(ctx, item, _answer(ctx, item, event, Destroyed.TOO_EARLY))
    try:
        answer = _decide(ctx, item, event)
    except _FAILURES as exc:
        answer = _failed_attempt(ctx, item, event, _reason(exc))
    if isinstance(answer, DestroyResult):
        return answer
    return _settle(ctx, item, answer)


def _not_acted_on(item: ExpiryItem) -> DestroyResult | None:
    if item.state is State.RETIRED:
        return DestroyResult(Destroyed.IGNORED, f"{item.where}: a tombstone's time ended; nothing to do")
    if item.state is not State.SCHEDULED:
        return DestroyResult(Destroyed.IGNORED, f"{item.where}: {item.state.value} item removed; nothing to do")
    if item.expires_at is None:
        return DestroyResult(Destroyed.IGNORED, f"{item.where}: scheduled item without expires_at; not acted on")
    return None


def _reason(exc: Exception) -> str:
    return str(exc) if isinstance(exc, IkrError) else aws_reason(exc)


def _expired(item: ExpiryItem, now: datetime, removed_by_ttl: bool) -> bool:
    assert item.expires_at is not None
    if removed_by_ttl or item.expires_at <= epoch(now):
        return True
    # The sweep records its own clock (which may be a planned `--now`) before removing.
    return item.swept_at is not None and item.swept_at >= item.expires_at


def _elsewhere(item: ExpiryItem, found: ExpiryItem) -> DestroyResult:
    logger.info(
        "stream record ignored: the key's item was written again since",
        extra={"account_id": item.account_id, "user": item.user_name, "old_key_id": item.old_key_id},
    )
    return DestroyResult(
        Destroyed.IGNORED,
        f"{item.where}: its item was written again since this record ({found.state.value}); left to that",
    )


def _answer(ctx: DestroyContext, item: ExpiryItem, event: str, outcome: Destroyed, **changes: object) -> ExpiryItem:
    """`item` as this record's answer: the put-back, or with `state=RETIRED` the tombstone."""
    handling = Handling(event=event, outcome=outcome.value, at=epoch(ctx.now))
    return item.model_copy(update={"handling": handling, **changes})


def _suffix(answer: ExpiryItem) -> str:
    assert answer.handling is not None
    return KEPT_SUFFIX if answer.handling.outcome == Destroyed.KEPT_REACTIVATED.value else ""


def _settle(ctx: DestroyContext, item: ExpiryItem, answer: ExpiryItem) -> DestroyResult:
    """Write the answer where nothing is, then finish; a twin's answer to the same record is finished instead."""
    assert answer.handling is not None
    suffix = _suffix(answer)
    if not ctx.table.settle(answer, suffix):
        found = ctx.table.handled(item, suffix)
        if found is None or found.handling is None or found.handling.event != answer.handling.event:
            return _elsewhere(item, found or answer)
        answer = found
    return _finish(ctx, item, answer)


# -- the decision: reads only ---------------------------------------------------------------------------
def _decide(ctx: DestroyContext, item: ExpiryItem, event: str) -> ExpiryItem | DestroyResult:
    iam = aws.iam(ctx.broker.session_for(item.account_id))
    keys, _ = _keys(iam, item)
    old = next((key for key in keys if key.key_id == item.old_key_id), None)
    if item.unrecorded:
        return _decide_unrecorded(ctx, item, event, old)
    if old is None:
        return _tombstone(ctx, item, event, Destroyed.ALREADY_GONE)
    if not _others_active(keys, item):
        return _kept_only_key(item)
    handling = Handling(event=event, outcome=Destroyed.DELETED.value, at=epoch(ctx.now))
    if item.verify_use and item.deactivated_at is None and not _new_key_in_use(iam, item):
        retire_by = _retire_by(ctx, item)
        if ctx.now < retire_by:
            return _postponed(ctx, item, event, retire_by)
        handling = handling.model_copy(update={"retired_unused": True})
    handling = _with_last_use(iam, item, old, handling)
    if ctx.deactivate_days > 0 and item.deactivated_at is None and old.status is KeyStatus.ACTIVE:
        return item.model_copy(
            update={
                "deactivated_at": epoch(ctx.now),
                "expires_at": epoch(ctx.now + timedelta(days=ctx.deactivate_days)),
                "swept_at": None,
                "reminded_at": epoch(ctx.now) if handling.last_used_at is not None else item.reminded_at,
                "handling": handling.model_copy(update={"outcome": Destroyed.DEACTIVATED.value}),
            }
        )
    return _tombstone(ctx, item, event, Destroyed.DELETED, handling)


def _decide_unrecorded(
    ctx: DestroyContext, item: ExpiryItem, event: str, old: AccessKey | None
) -> ExpiryItem | DestroyResult:
    if old is None:
        return _tombstone(ctx, item, event, Destroyed.ALREADY_GONE)
    if old.status is KeyStatus.ACTIVE:
        return _answer(ctx, item, event, Destroyed.KEPT_REACTIVATED, state=State.RETIRED, **_tombstone_life(ctx))
    return _tombstone(ctx, item, event, Destroyed.DELETED)


def _tombstone_life(ctx: DestroyContext) -> dict[str, object]:
    return {"expires_at": epoch(ctx.now + TOMBSTONE_LIFE), "swept_at": None}


def _tombstone(
    ctx: DestroyContext, item: ExpiryItem, event: str, outcome: Destroyed, handling: Handling | None = None
) -> ExpiryItem:
    answer = _answer(ctx, item, event, outcome, state=State.RETIRED, **_tombstone_life(ctx))
    if handling is not None:
        answer = answer.model_copy(update={"handling": handling.model_copy(update={"outcome": outcome.value})})
    return answer


def _keys(iam: IAMClient, item: ExpiryItem) -> tuple[tuple[AccessKey, ...], bool]:
    """The user's keys, and whether the user exists at all."""
    try:
        return tuple(access_keys(iam, item.user_name)), True
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "NoSuchEntity":
            raise
        return (), False  # the user itself is gone


def _others_active(keys: tuple[AccessKey, ...], item: ExpiryItem) -> bool:
    return any(k.key_id != item.old_key_id and k.status is KeyStatus.ACTIVE for k in keys)


def _kept_only_key(item: ExpiryItem) -> DestroyResult:
    # Never leave a user without a working key: the new one was deleted or deactivated by
    # someone. With one key left, the next rotation run rotates it again; with an inactive
    # second key, a person decides (the run reports the user's two keys). Nothing is written:
    # the next rotation of this very key must find its item's place free.
    logger.error(
        "old key is the user's only active key; kept",
        extra={"account_id": item.account_id, "user": item.user_name, "old_key_id": item.old_key_id},
    )
    return DestroyResult(
        Destroyed.KEPT_ONLY_KEY,
        f"{item.where}: it is the user's only active key (the new key is gone or inactive); kept",
    )


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


def _postponed(ctx: DestroyContext, item: ExpiryItem, event: str, retire_by: datetime) -> ExpiryItem:
    """Back in a day, attempts untouched; the owner hears at most once a day."""
    tell = item.postponed_at is None or ctx.now - from_epoch(item.postponed_at) >= _NAG_EVERY
    return _answer(
        ctx,
        item,
        event,
        Destroyed.POSTPONED,
        expires_at=epoch(min(ctx.now + _LOOK_AGAIN, retire_by)),
        swept_at=None,
        postponed_at=epoch(ctx.now) if tell else item.postponed_at,
    )


def _with_last_use(iam: IAMClient, item: ExpiryItem, old: AccessKey, handling: Handling) -> Handling:
    """One reminder per item when the old key was used after the new key was mailed."""
    if item.reminded_at is not None or item.email is None:
        return handling
    answer = iam.get_access_key_last_used(AccessKeyId=old.key_id).get("AccessKeyLastUsed", {})
    used_at = answer.get("LastUsedDate")
    if used_at is None or used_at <= from_epoch(item.started_at):
        return handling
    return handling.model_copy(
        update={
            "last_used_at": epoch(used_at),
            "last_used_service": answer.get("ServiceName", "?"),
            "last_used_region": answer.get("Region", "?"),
        }
    )


def _failed_attempt(ctx: DestroyContext, item: ExpiryItem, event: str, reason: str) -> ExpiryItem:
    attempts = item.attempts + 1
    if attempts >= ctx.max_attempts:
        return _answer(
            ctx,
            item,
            event,
            Destroyed.GAVE_UP,
            state=State.FAILED,
            attempts=attempts,
            expires_at=None,  # no TTL: the item stays for people to look at
            swept_at=None,
            failed_at=epoch(ctx.now),
            last_error=reason[:500],
        )
    return _answer(
        ctx,
        item,
        event,
        Destroyed.RETRY,
        attempts=attempts,
        expires_at=epoch(ctx.now + ctx.retry_after),
        swept_at=None,
        last_error=reason[:500],
    )


# -- finishing: the key change the answer stands for, then the notices ------------------------------------
def _finish(ctx: DestroyContext, item: ExpiryItem, answer: ExpiryItem) -> DestroyResult:
    """Carry out what `answer` (already in the table) decided; tell people if this handling gets the claim."""
    assert answer.handling is not None
    event, decided = answer.handling.event, answer.handling.outcome
    if answer.handling.noticed_at is not None:  # claimed after the key change: all done
        return DestroyResult(Destroyed.HANDLED, f"{item.where}: {decided} by another delivery of this record")
    try:
        result = _carry_out(ctx, item, answer)
    except _FAILURES as exc:
        reason = _reason(exc)
        failed = _failed_attempt(ctx, item, event, reason)
        if not ctx.table.resettle(failed, event):
            return DestroyResult(Destroyed.HANDLED, f"{item.where}: this record's answer was replaced meanwhile")
        answer, result = failed, _told(ctx, item, failed)
    if result.outcome in (Destroyed.KEPT_ONLY_KEY, Destroyed.HANDLED, Destroyed.IGNORED):
        return result
    if result.outcome is Destroyed.KEPT_REACTIVATED and decided != Destroyed.KEPT_REACTIVATED:
        return result  # re-activated since the decision: answered (and told) under its own key
    if not ctx.table.claim_notices(answer, event, ctx.now, _suffix(answer)):
        logger.info(
            "stream record already handled by another delivery",
            extra={"account_id": item.account_id, "user": item.user_name, "old_key_id": item.old_key_id},
        )
        return DestroyResult(Destroyed.HANDLED, f"{item.where}: {result.outcome.value} by another delivery")
    return _tell(ctx, item, answer, result)


def _carry_out(ctx: DestroyContext, item: ExpiryItem, answer: ExpiryItem) -> DestroyResult:
    assert answer.handling is not None
    outcome = Destroyed(answer.handling.outcome)
    if outcome in (Destroyed.DELETED, Destroyed.ALREADY_GONE):
        return _retire(ctx, item, answer)
    if outcome is Destroyed.DEACTIVATED:
        iam = aws.iam(ctx.broker.session_for(item.account_id))
        try:
            iam.update_access_key(UserName=item.user_name, AccessKeyId=item.old_key_id, Status="Inactive")
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "NoSuchEntity":
                raise
            # Deleted by someone meanwhile: the put-back's removal finds it gone and says so.
    return _told(ctx, item, answer)


def _retire(ctx: DestroyContext, item: ExpiryItem, tombstone: ExpiryItem) -> DestroyResult:
    assert tombstone.handling is not None
    session = ctx.broker.session_for(item.account_id)
    iam = aws.iam(session)
    keys, user_exists = _keys(iam, item)
    old = next((key for key in keys if key.key_id == item.old_key_id), None)
    gone = old is None
    if old is not None:
        # Looked at again: a twin or a retry may come long after the decision.
        if item.unrecorded and old.status is KeyStatus.ACTIVE:
            event = tombstone.handling.event
            ctx.table.unsettle(tombstone, event)
            kept = _answer(ctx, item, event, Destroyed.KEPT_REACTIVATED, state=State.RETIRED, **_tombstone_life(ctx))
            return _settle(ctx, item, kept)
        if not item.unrecorded and not _others_active(keys, item):
            ctx.table.unsettle(tombstone, tombstone.handling.event)
            return _kept_only_key(item)
        try:
            iam.delete_access_key(UserName=item.user_name, AccessKeyId=item.old_key_id)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "NoSuchEntity":
                raise
            gone = True
    if not item.unrecorded:
        _drop_encryption_key(ctx, session, item, keys, user_exists)
    if gone:
        return DestroyResult(Destroyed.ALREADY_GONE, f"{item.where}: old key was already deleted")
    return DestroyResult(Destroyed.DELETED, f"{item.where}: {'unrecorded' if item.unrecorded else 'old'} key deleted")


def _drop_encryption_key(
    ctx: DestroyContext, session: boto3.Session, item: ExpiryItem, keys: tuple[AccessKey, ...], user_exists: bool
) -> None:
    """The user's Fernet key goes with the last item, but only if it is still this user's: a user of the
    same name made anew (none of this rotation's keys is theirs) keeps theirs."""
    ids = {key.key_id for key in keys}
    same_user = not user_exists or item.new_key_id is None or bool(ids & {item.new_key_id, item.old_key_id})
    if not same_user:
        logger.warning(
            "encryption key kept: neither key of this rotation belongs to the user now (made anew?)",
            extra={"account_id": item.account_id, "user": item.user_name, "old_key_id": item.old_key_id},
        )
        return
    if not ctx.table.for_user(item.account_id, item.user_name):
        UserKeyStore(aws.ssm(session), item.account_id).delete(item.user_name)


def _told(ctx: DestroyContext, item: ExpiryItem, answer: ExpiryItem) -> DestroyResult:
    """The result an answer without a key change stands for."""
    assert answer.handling is not None
    outcome = Destroyed(answer.handling.outcome)
    if outcome is Destroyed.DEACTIVATED:
        assert answer.expires_at is not None
        return DestroyResult(
            outcome,
            f"{item.where}: old key made inactive; deleted at {from_epoch(answer.expires_at):%Y-%m-%d %H:%M} UTC",
        )
    if outcome is Destroyed.POSTPONED:
        return DestroyResult(
            outcome,
            f"{item.where}: the new key {item.new_key_id} has not been used yet; old key kept, looked at again in a "
            f"day (retired anyway at {_retire_by(ctx, item):%Y-%m-%d %H:%M} UTC)",
        )
    if outcome is Destroyed.RETRY:
        return DestroyResult(outcome, f"{item.where}: {answer.last_error}; retry #{answer.attempts} scheduled")
    if outcome is Destroyed.GAVE_UP:
        return DestroyResult(outcome, f"{item.where}: {answer.last_error}; gave up after {answer.attempts} attempts")
    if outcome is Destroyed.TOO_EARLY:
        return DestroyResult(outcome, f"{item.where}: removed before its deletion time; put back, key kept")
    if outcome is Destroyed.KEPT_REACTIVATED:
        return DestroyResult(outcome, f"{item.where}: an unrecorded key was re-activated; ikr leaves it alone")
    raise AssertionError(f"no key change for {outcome}")


# -- telling ----------------------------------------------------------------------------------------------
_EVENTS = {
    Destroyed.DELETED: Event.OLD_KEY_RETIRED,
    Destroyed.ALREADY_GONE: Event.OLD_KEY_RETIRED,
    Destroyed.DEACTIVATED: Event.OLD_KEY_DEACTIVATED,
}


def _tell(ctx: DestroyContext, item: ExpiryItem, answer: ExpiryItem, result: DestroyResult) -> DestroyResult:
    handling = answer.handling
    assert handling is not None
    outcome = result.outcome
    if outcome not in (Destroyed.DELETED, Destroyed.ALREADY_GONE, Destroyed.DEACTIVATED):
        _tell_put_back(ctx, item, answer, result)
        return result
    where: dict[str, object] = {"account_id": item.account_id, "user": item.user_name, "old_key_id": item.old_key_id}
    reminded = False
    action = "made inactive" if outcome is Destroyed.DEACTIVATED else "deleted"
    if handling.last_used_at is not None:
        deleted_at = from_epoch(answer.expires_at) if outcome is Destroyed.DEACTIVATED and answer.expires_at else None
        reminded = retirement_notices.remind_still_used(ctx.mailer, ctx.notifier, answer, action, deleted_at)
    if handling.retired_unused:
        retirement_notices.retired_unused(ctx.mailer, ctx.admin, item, _retire_by(ctx, item), action)
    logger.info(f"old key {outcome.value}: {result.detail}", extra={**where, "outcome": outcome.value})
    if item.unrecorded:
        if outcome is Destroyed.DELETED:
            retirement_notices.unrecorded_deleted(ctx.admin, ctx.notifier, item, result.detail)
        # else gone by someone else's hand: quietly done
    else:
        event = _EVENTS[outcome]
        ctx.notifier.notify(Notice.about(item, event, f"ikr: {result.detail}"))
    return replace(result, reminded=reminded)


def _tell_put_back(ctx: DestroyContext, item: ExpiryItem, answer: ExpiryItem, result: DestroyResult) -> None:
    assert answer.handling is not None
    where: dict[str, object] = {"account_id": item.account_id, "user": item.user_name, "old_key_id": item.old_key_id}
    outcome = result.outcome
    if outcome is Destroyed.TOO_EARLY:
        logger.warning("expiry item removed before its time; put back", extra=where)
    elif outcome is Destroyed.RETRY:
        logger.error(
            "destruction failed; retry scheduled",
            extra={**where, "reason": answer.last_error, "attempts": answer.attempts},
        )
    elif outcome is Destroyed.GAVE_UP:
        retirement_notices.given_up(ctx.admin, ctx.notifier, answer, answer.last_error or "?")
    elif outcome is Destroyed.POSTPONED:
        if answer.postponed_at == answer.handling.at:  # this handling's turn to tell (once a day at most)
            retirement_notices.postponed(ctx.mailer, ctx.notifier, item, _retire_by(ctx, item), result.detail)
    elif outcome is Destroyed.KEPT_REACTIVATED:
        retirement_notices.unrecorded_kept(ctx.admin, ctx.notifier, item)


# CloudWatch metric of each outcome, as the destructor Lambda emits them (IGNORED has none).
OUTCOME_METRICS = {
    Destroyed.DELETED: "KeysDestroyed",
    Destroyed.ALREADY_GONE: "KeysDestroyed",
    Destroyed.DEACTIVATED: "KeysDeactivated",
    Destroyed.RETRY: "DestructionRetries",
    Destroyed.GAVE_UP: "DestructionsGivenUp",
    Destroyed.KEPT_ONLY_KEY: "OnlyKeysKept",
    Destroyed.KEPT_REACTIVATED: "UnrecordedKeysKept",
    Destroyed.TOO_EARLY: "ItemsPutBack",
    Destroyed.POSTPONED: "RetirementsPostponed",
    Destroyed.HANDLED: "RecordsAlreadyHandled",
}
