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
from dataclasses import replace
from datetime import datetime

from aws_lambda_powertools import Logger

from central.aws.errors import reason_of
from central.aws.expiry_item import KEPT_SUFFIX, ExpiryItem, State, epoch, from_epoch
from central.domain.errors import IkrError
from central.notify.notice import Event, Notice
from central.retirement import notices as retirement_notices
from central.retirement.decide import Listing, decide, list_keys
from central.retirement.outcome import (
    OUTCOME_METRICS,
    DestroyContext,
    Destroyed,
    DestroyResult,
    failed_attempt,
    retire_by,
    told,
)
from central.retirement.outcome import answer as answer_to
from central.retirement.retire import carry_out

__all__ = ["OUTCOME_METRICS", "DestroyContext", "DestroyResult", "Destroyed", "destroy", "record_identity"]

logger = Logger(service="ikr")


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
    item = item.model_copy(update={"handling": None})  # the image may carry the previous record's answer
    # No read of the table first: the answer's write is conditional on nothing being at the key, and
    # when it fails the item there is read and finished (this record's) or left (anyone else's). A
    # redelivery thus decides again, reads only, and its answer loses to the first one.
    if not _expired(item, ctx.now, removed_by_ttl):
        return _settle(ctx, item, answer_to(ctx, item, event, Destroyed.TOO_EARLY))
    listing: Listing | None = None
    try:
        listing = list_keys(ctx.member(item.account_id).iam, item)
        answer = decide(ctx, item, event, listing)
    except IkrError as exc:
        answer = failed_attempt(ctx, item, event, reason_of(exc))
    if isinstance(answer, DestroyResult):
        return _unwritten(ctx, item, event, answer)
    return _settle(ctx, item, answer, listing)


def _unwritten(ctx: DestroyContext, item: ExpiryItem, event: str, result: DestroyResult) -> DestroyResult:
    """A decision that writes nothing (the user's only active key is kept): unless an answer to this
    record is in the table already (a twin or an earlier delivery decided first), which is finished."""
    found = ctx.table.handled(item)
    if found is None:
        return result
    if found.handling is not None and found.handling.event == event:
        return _finish(ctx, item, found)
    return _elsewhere(item, found)


def _not_acted_on(item: ExpiryItem) -> DestroyResult | None:
    if item.state is State.RETIRED:
        return DestroyResult(Destroyed.IGNORED, f"{item.where}: a tombstone's time ended; nothing to do")
    if item.state is not State.SCHEDULED:
        return DestroyResult(Destroyed.IGNORED, f"{item.where}: {item.state.value} item removed; nothing to do")
    if item.expires_at is None:
        return DestroyResult(Destroyed.IGNORED, f"{item.where}: scheduled item without expires_at; not acted on")
    return None


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


def _suffix(answer: ExpiryItem) -> str:
    assert answer.handling is not None
    return KEPT_SUFFIX if answer.handling.outcome == Destroyed.KEPT_REACTIVATED.value else ""


def _settle(ctx: DestroyContext, item: ExpiryItem, answer: ExpiryItem, listing: Listing | None = None) -> DestroyResult:
    """Write the answer where nothing is, then finish; a twin's answer to the same record is finished
    instead. `listing`: the user's keys as this handling just listed them (carrying out uses them)."""
    assert answer.handling is not None
    suffix = _suffix(answer)
    if not ctx.table.settle(answer, suffix):
        found = ctx.table.handled(item, suffix)
        if found is None or found.handling is None or found.handling.event != answer.handling.event:
            return _elsewhere(item, found or answer)
        answer = found
    return _finish(ctx, item, answer, listing)


# -- finishing: the key change the answer stands for, then the notices ------------------------------------
def _finish(ctx: DestroyContext, item: ExpiryItem, answer: ExpiryItem, listing: Listing | None = None) -> DestroyResult:
    """Carry out what `answer` (already in the table) decided; tell people if this handling gets the claim."""
    assert answer.handling is not None
    event, decided = answer.handling.event, answer.handling.outcome
    if answer.handling.noticed_at is not None:  # claimed after the key change: all done
        return DestroyResult(Destroyed.HANDLED, f"{item.where}: {decided} by another delivery of this record")
    try:
        done = carry_out(ctx, item, answer, listing)
        # A new answer (an unrecorded key re-activated since the decision) is settled under its own key.
        result = _settle(ctx, item, done) if isinstance(done, ExpiryItem) else done
    except IkrError as exc:
        reason = reason_of(exc)
        failed = failed_attempt(ctx, item, event, reason)
        if not ctx.table.resettle(failed, event):
            return DestroyResult(Destroyed.HANDLED, f"{item.where}: this record's answer was replaced meanwhile")
        answer, result = failed, told(ctx, item, failed)
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
        retirement_notices.retired_unused(ctx.mailer, ctx.admin, item, retire_by(ctx, item), action)
    logger.info(f"old key {outcome.value}: {result.detail}", extra={**where, "outcome": outcome.value})
    if item.unrecorded:
        if outcome is Destroyed.DELETED:
            retirement_notices.unrecorded_deleted(ctx.admin, ctx.notifier, item, result.detail)
        # else gone by someone else's hand: quietly done
    else:
        event = _EVENTS[outcome]
        ctx.notifier.notify(Notice.about(item, event, f"ikr: {result.detail}"))
        # Decided as a deletion: the key went by this record's hand (a twin delivery may have carried it
        # out first and find it gone); a key gone before the decision was not ikr's doing.
        if handling.outcome == Destroyed.DELETED.value:
            retirement_notices.old_key_deleted(ctx.mailer, item, lambda: ctx.account_alias(item.account_id))
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
            retirement_notices.postponed(ctx.mailer, ctx.notifier, item, retire_by(ctx, item), result.detail)
    elif outcome is Destroyed.KEPT_REACTIVATED:
        retirement_notices.unrecorded_kept(ctx.admin, ctx.notifier, item)
