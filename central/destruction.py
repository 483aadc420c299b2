"""Destruction of one old key whose expiry item was removed from the table.

Acts only on `scheduled` items whose time has passed (removed by TTL, by the rotator's sweep, or
seen after `expires_at`); an item someone deleted by hand too early is put back. The old key is
deleted only while the user has another key, and an already deleted key counts as done. Any
failure puts the item back `RETRY_AFTER_MINS` later with attempts + 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from central import aws
from central.errors import IkrError, aws_reason
from central.expiry_table import ExpiryItem, ExpiryTable, State, epoch
from central.inventory import access_keys
from central.model import KeyStatus
from central.secrets import UserKeyStore
from central.services import Services
from central.sessions import SessionBroker

logger = Logger(service="ikr")


class Destroyed(StrEnum):
    DELETED = "deleted"
    ALREADY_GONE = "already-gone"
    KEPT_ONLY_KEY = "kept-only-key"
    RETRY = "retry-scheduled"
    TOO_EARLY = "put-back-too-early"
    IGNORED = "ignored"


@dataclass(frozen=True)
class DestroyResult:
    outcome: Destroyed
    detail: str


@dataclass(frozen=True)
class DestroyContext:
    broker: SessionBroker
    table: ExpiryTable
    now: datetime
    retry_after: timedelta

    @classmethod
    def from_services(cls, services: Services) -> DestroyContext:
        return cls(
            broker=services.broker,
            table=services.table,
            now=services.clock(),
            retry_after=timedelta(minutes=services.settings.RETRY_AFTER_MINS),
        )


def destroy(ctx: DestroyContext, item: ExpiryItem, removed_by_ttl: bool = False) -> DestroyResult:
    where: dict[str, object] = {"account_id": item.account_id, "user": item.user_name, "old_key_id": item.old_key_id}
    if item.state is not State.SCHEDULED:
        return DestroyResult(
            Destroyed.IGNORED, f"{item.where}: {item.state.value} journal entry removed; nothing to do"
        )
    if item.expires_at is None:
        return DestroyResult(Destroyed.IGNORED, f"{item.where}: scheduled item without expires_at; not acted on")
    if not _expired(item, ctx.now, removed_by_ttl):
        ctx.table.put(item)
        logger.warning("expiry item removed before its time; put back", extra=where)
        return DestroyResult(Destroyed.TOO_EARLY, f"{item.where}: removed before its deletion time; put back, key kept")
    try:
        result = _delete_old_key(ctx, item)
    except (IkrError, ClientError, BotoCoreError) as exc:
        reason = str(exc) if isinstance(exc, IkrError) else aws_reason(exc)
        retry = item.model_copy(
            update={
                "attempts": item.attempts + 1,
                "expires_at": epoch(ctx.now + ctx.retry_after),
                "swept_at": None,
                "last_error": reason[:500],
            }
        )
        ctx.table.put(retry)  # if this fails too, the handler reports the record as failed
        logger.error(
            "destruction failed; retry scheduled", extra={**where, "reason": reason, "attempts": retry.attempts}
        )
        return DestroyResult(Destroyed.RETRY, f"{item.where}: {reason}; retry #{retry.attempts} scheduled")
    logger.info("destruction", extra={**where, "outcome": result.outcome.value})
    return result


def _expired(item: ExpiryItem, now: datetime, removed_by_ttl: bool) -> bool:
    assert item.expires_at is not None
    if removed_by_ttl or item.expires_at <= epoch(now):
        return True
    # The sweep records its own clock (which may be a planned `--now`) before removing.
    return item.swept_at is not None and item.swept_at >= item.expires_at


def _delete_old_key(ctx: DestroyContext, item: ExpiryItem) -> DestroyResult:
    session = ctx.broker.session_for(item.account_id)
    iam = aws.iam(session)
    try:
        keys = access_keys(iam, item.user_name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "NoSuchEntity":
            raise
        keys = ()  # the user itself is gone
    ids = {key.key_id for key in keys}
    others_active = [k for k in keys if k.key_id != item.old_key_id and k.status is KeyStatus.ACTIVE]
    if item.old_key_id not in ids:
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
        try:
            iam.delete_access_key(UserName=item.user_name, AccessKeyId=item.old_key_id)
            outcome = DestroyResult(Destroyed.DELETED, f"{item.where}: old key deleted")
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "NoSuchEntity":
                raise
            outcome = DestroyResult(Destroyed.ALREADY_GONE, f"{item.where}: old key was already deleted")
    if not ctx.table.for_user(item.account_id, item.user_name):
        UserKeyStore(aws.ssm(session), item.account_id).delete(item.user_name)
    return outcome
