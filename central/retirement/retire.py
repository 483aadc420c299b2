"""The key change an answer stands for, once it is in the table: the old key deleted (or made
Inactive), and the user's encryption key dropped with the user's last item.

The key is looked at again first: a twin or a retry may come long after the decision. An unrecorded
key re-activated since is kept (a new answer, returned for the caller to settle); the user's only
active key is kept and the answer taken back.
"""

from __future__ import annotations

import contextlib

from aws_lambda_powertools import Logger

from central.aws.errors import AwsNotFound
from central.aws.expiry_table import ExpiryItem, State
from central.aws.member import MemberAccount
from central.domain.model import AccessKey, KeyStatus
from central.retirement.decide import others_active, user_keys
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


def carry_out(ctx: DestroyContext, item: ExpiryItem, decided: ExpiryItem) -> DestroyResult | ExpiryItem:
    """The result of carrying out `decided` (already in the table), or a new answer to settle instead."""
    assert decided.handling is not None
    outcome = Destroyed(decided.handling.outcome)
    if outcome in (Destroyed.DELETED, Destroyed.ALREADY_GONE):
        return _retire(ctx, item, decided)
    if outcome is Destroyed.DEACTIVATED:
        # Deleted by someone meanwhile: the put-back's removal finds it gone and says so.
        with contextlib.suppress(AwsNotFound):
            ctx.member(item.account_id).iam.deactivate_access_key(item.user_name, item.old_key_id)
    return told(ctx, item, decided)


def _retire(ctx: DestroyContext, item: ExpiryItem, tombstone: ExpiryItem) -> DestroyResult | ExpiryItem:
    assert tombstone.handling is not None
    member = ctx.member(item.account_id)
    iam = member.iam
    keys, user_exists = user_keys(iam, item)
    old = next((key for key in keys if key.key_id == item.old_key_id), None)
    gone = old is None
    if old is not None:
        # Looked at again: a twin or a retry may come long after the decision.
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
        _drop_encryption_key(ctx, member, item, keys, user_exists)
    if gone:
        return DestroyResult(Destroyed.ALREADY_GONE, f"{item.where}: old key was already deleted")
    return DestroyResult(Destroyed.DELETED, f"{item.where}: {'unrecorded' if item.unrecorded else 'old'} key deleted")


def _drop_encryption_key(
    ctx: DestroyContext, member: MemberAccount, item: ExpiryItem, keys: tuple[AccessKey, ...], user_exists: bool
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
        member.user_keys.delete(item.user_name)
