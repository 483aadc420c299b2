"""The retirement's decision, reads only: what to do with the old key of one expired item.

The old key is retired only while the user has another active key; an already deleted key counts as
done. With IKR:VERIFY_USE it waits (a day at a time, until the grace time is over) for the new key's
first use; an old key used after the new one was mailed earns its owner one reminder. An `unrecorded`
key is deleted only while still Inactive; re-activated, it is kept for good.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from central.aws.errors import AwsNotFound
from central.aws.expiry_item import ExpiryItem, Handling, State, epoch, from_epoch
from central.aws.iam import IamAccount
from central.domain.model import AccessKey, KeyStatus
from central.retirement.outcome import (
    DestroyContext,
    Destroyed,
    DestroyResult,
    answer,
    kept_only_key,
    retire_by,
    tombstone,
    tombstone_life,
)

_LOOK_AGAIN = timedelta(days=1)
_NAG_EVERY = timedelta(hours=23)  # "once a day at most", with room for a sweep that ran a little early


@dataclass(frozen=True)
class Listing:
    """The user's keys as ListAccessKeys gave them to this handling, and whether the user exists."""

    keys: tuple[AccessKey, ...]
    user_exists: bool


def list_keys(iam: IamAccount, item: ExpiryItem) -> Listing:
    keys, user_exists = user_keys(iam, item)
    return Listing(keys, user_exists)


def decide(ctx: DestroyContext, item: ExpiryItem, event: str, listing: Listing) -> ExpiryItem | DestroyResult:
    """`listing` is this handling's own, made just now: carrying the answer out uses it again."""
    iam = ctx.member(item.account_id).iam
    keys = listing.keys
    old = next((key for key in keys if key.key_id == item.old_key_id), None)
    if item.unrecorded:
        return _decide_unrecorded(ctx, item, event, old)
    if old is None:
        return tombstone(ctx, item, event, Destroyed.ALREADY_GONE)
    if not others_active(keys, item):
        return kept_only_key(item)
    handling = Handling(event=event, outcome=Destroyed.DELETED.value, at=epoch(ctx.now))
    if item.verify_use and item.deactivated_at is None and not _new_key_in_use(iam, item):
        deadline = retire_by(ctx, item)
        if ctx.now < deadline:
            return _postponed(ctx, item, event, deadline)
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
    return tombstone(ctx, item, event, Destroyed.DELETED, handling)


def _decide_unrecorded(
    ctx: DestroyContext, item: ExpiryItem, event: str, old: AccessKey | None
) -> ExpiryItem | DestroyResult:
    if old is None:
        return tombstone(ctx, item, event, Destroyed.ALREADY_GONE)
    if old.status is KeyStatus.ACTIVE:
        return answer(ctx, item, event, Destroyed.KEPT_REACTIVATED, state=State.RETIRED, **tombstone_life(ctx))
    return tombstone(ctx, item, event, Destroyed.DELETED)


def user_keys(iam: IamAccount, item: ExpiryItem) -> tuple[tuple[AccessKey, ...], bool]:
    """The user's keys, and whether the user exists at all."""
    try:
        return iam.access_keys(item.user_name), True
    except AwsNotFound:
        return (), False  # the user itself is gone


def others_active(keys: tuple[AccessKey, ...], item: ExpiryItem) -> bool:
    return any(k.key_id != item.old_key_id and k.status is KeyStatus.ACTIVE for k in keys)


def _new_key_in_use(iam: IamAccount, item: ExpiryItem) -> bool:
    """Has the new key been used since it was made? (IAM's record lags by up to hours: a miss waits a day.)"""
    if item.new_key_id is None:
        return True  # nothing to verify against: keep the old behaviour
    try:
        used = iam.last_used(item.new_key_id, item.user_name)
    except AwsNotFound:
        return False  # the new key is gone: never retire the old one on its account
    return used is not None and used.at >= from_epoch(item.started_at)


def _postponed(ctx: DestroyContext, item: ExpiryItem, event: str, retire_by: datetime) -> ExpiryItem:
    """Back in a day, attempts untouched; the owner hears at most once a day."""
    tell = item.postponed_at is None or ctx.now - from_epoch(item.postponed_at) >= _NAG_EVERY
    return answer(
        ctx,
        item,
        event,
        Destroyed.POSTPONED,
        expires_at=epoch(min(ctx.now + _LOOK_AGAIN, retire_by)),
        swept_at=None,
        postponed_at=epoch(ctx.now) if tell else item.postponed_at,
    )


def _with_last_use(iam: IamAccount, item: ExpiryItem, old: AccessKey, handling: Handling) -> Handling:
    """One reminder per item when the old key was used after the new key was mailed.

    Not asked for a key ikr made Inactive and that is still Inactive: its use up to then was looked
    at when it was deactivated (that pass reminded, or found nothing), and an Inactive key cannot
    be used since."""
    if item.reminded_at is not None or item.email is None:
        return handling
    if item.deactivated_at is not None and old.status is KeyStatus.INACTIVE:
        return handling
    used = iam.last_used(old.key_id, item.user_name)
    if used is None or used.at <= from_epoch(item.started_at):
        return handling
    return handling.model_copy(
        update={"last_used_at": epoch(used.at), "last_used_service": used.service, "last_used_region": used.region}
    )
