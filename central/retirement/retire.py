"""The key change an answer stands for, once it is in the table: the old key deleted (or made
Inactive), and the user's encryption key dropped with the user's last item.

The keys are looked at again first when the answer was decided by another handling (a twin or a
retry may come long after the decision); the handling that just decided uses its own listing. An
unrecorded key re-activated since is kept (a new answer, returned for the caller to settle); the
user's only active key is kept and the answer taken back. The user's Fernet key and the pending
parameter (the rotation's delivery mark) go in one call right after the old key.
"""

from __future__ import annotations

import contextlib

from aws_lambda_powertools import Logger

from central.aws.errors import AwsNotFound
from central.aws.expiry_item import ExpiryItem, State
from central.aws.member import MemberAccount
from central.domain.model import KeyStatus
from central.retirement.decide import Listing, list_keys, others_active
from central.retirement.outcome import (
    DestroyContext,
    Destroyed,
    DestroyResult,
    answer,
    kept_only_key,
    told,
    tombstone_life,
)

logger = Logger(service="ikr")


def carry_out(
    ctx: DestroyContext, item: ExpiryItem, decided: ExpiryItem, listing: Listing | None = None
) -> DestroyResult | ExpiryItem:
    """The result of carrying out `decided` (already in the table), or a new answer to settle instead.

    `listing`: the user's keys as this handling listed them moments ago to decide; None (an answer
    another handling decided, maybe long ago) lists them again."""
    assert decided.handling is not None
    outcome = Destroyed(decided.handling.outcome)
    if outcome in (Destroyed.DELETED, Destroyed.ALREADY_GONE):
        return _retire(ctx, item, decided, listing)
    if outcome is Destroyed.DEACTIVATED:
        # Deleted by someone meanwhile: the put-back's removal finds it gone and says so.
        with contextlib.suppress(AwsNotFound):
            ctx.member(item.account_id).iam.deactivate_access_key(item.user_name, item.old_key_id)
    return told(ctx, item, decided)


def _retire(
    ctx: DestroyContext, item: ExpiryItem, tombstone: ExpiryItem, listing: Listing | None
) -> DestroyResult | ExpiryItem:
    assert tombstone.handling is not None
    member = ctx.member(item.account_id)
    iam = member.iam
    if listing is None:
        listing = list_keys(iam, item)  # looked at again: a twin or a retry may come long after the decision
    keys = listing.keys
    old = next((key for key in keys if key.key_id == item.old_key_id), None)
    gone = old is None
    if old is not None:
        if item.unrecorded and old.status is KeyStatus.ACTIVE:
            event = tombstone.handling.event
            ctx.table.unsettle(tombstone, event)
            return answer(ctx, item, event, Destroyed.KEPT_REACTIVATED, state=State.RETIRED, **tombstone_life(ctx))
        if not item.unrecorded and not others_active(keys, item):
            ctx.table.unsettle(tombstone, tombstone.handling.event)
            return kept_only_key(item)
        try:
            iam.delete_access_key(item.user_name, item.old_key_id)
        except AwsNotFound:
            gone = True
    if not item.unrecorded:
        _drop_parameters(ctx, member, item, listing, deleted_old_key=not gone)
    if gone:
        return DestroyResult(Destroyed.ALREADY_GONE, f"{item.where}: old key was already deleted")
    return DestroyResult(Destroyed.DELETED, f"{item.where}: {'unrecorded' if item.unrecorded else 'old'} key deleted")


def _drop_parameters(
    ctx: DestroyContext, member: MemberAccount, item: ExpiryItem, listing: Listing, deleted_old_key: bool
) -> None:
    """The user's Fernet key goes with the last item, but only if it is still this user's: a user of the
    same name made anew (none of this rotation's keys is theirs) keeps theirs. In the same call, when
    this handling deleted the old key, the pending parameter: by then it holds this rotation's
    delivery mark (no secret), or a pair no rotation can still need (until that deletion IAM's
    two-key limit kept any later rotation of the user from making a key and writing a pair)."""
    ids = {key.key_id for key in listing.keys}
    same_user = not listing.user_exists or item.new_key_id is None or bool(ids & {item.new_key_id, item.old_key_id})
    if not same_user:
        logger.warning(
            "encryption key kept: neither key of this rotation belongs to the user now (made anew?)",
            extra={"account_id": item.account_id, "user": item.user_name, "old_key_id": item.old_key_id},
        )
        return
    if not ctx.table.for_user(item.account_id, item.user_name):
        member.user_keys.delete_with_rotation(
            item.user_name, encryption_key=not item.keeps_encryption_key, pending=deleted_old_key
        )
