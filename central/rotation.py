"""Rotation of one account: finish or undo interrupted rotations, then rotate every due user.

A rotation is journalled in the expiry table before each step, so a crash after any call leaves a
record a rerun can act on:

    begin(started) → CreateAccessKey → advance(key-created, new id) → [SSM key, encrypt] → mail
      → advance(scheduled, expires_at)
    mail or encryption failed → DeleteAccessKey(new) → remove journal: the old key stays, nothing scheduled

A rerun finding `started` or `key-created` removes the key that run made (it was never mailed:
the mail happens only after `key-created` is written) and rotates afresh.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import SecretStr

from central import aws, crypto
from central.clock import system_clock
from central.errors import DeliveryError, IkrError, SecretStoreError, aws_reason
from central.expiry_table import ExpiryItem, ExpiryTable, State, epoch, from_epoch
from central.inventory import access_keys, managed_users
from central.mail_content import NewKeyNotice, new_key_mail
from central.policy import Action, Decision, PendingOld, decide
from central.results import AccountResult, AccountStatus, Outcome, UserResult
from central.secrets import UserKeyStore

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_iam import IAMClient

    from central.mailers import Mailer
    from central.scope import AccountScope

logger = Logger(service="ikr")

# A key this much older than the journal's wall-clock start cannot be the one that run made.
_CLOCK_SLACK = timedelta(minutes=5)
_JOURNAL_STATES = (State.STARTED, State.KEY_CREATED)


@dataclass(frozen=True)
class RotationContext:
    session: boto3.Session
    scope: AccountScope
    now: datetime
    table: ExpiryTable
    mailer: Mailer
    encrypt: bool
    dry_run: bool = False
    run_id: str = ""
    # Items this run's sweep just removed: their destructor may not have run yet.
    being_deleted: tuple[ExpiryItem, ...] = ()


def rotate_account(ctx: RotationContext) -> AccountResult:
    account = ctx.scope.account
    result = AccountResult(
        account_id=account.id,
        account_name=account.name,
        ou_path=account.ou_path,
        status=AccountStatus.DONE,
        detail=f"opted in by {ctx.scope.enabled_source}",
    )
    iam = aws.iam(ctx.session)
    items = ctx.table.for_account(account.id)
    journal = [item for item in items if item.state in _JOURNAL_STATES]
    for item in journal:
        try:
            result.users.append(_recover(ctx, iam, item))
        except (ClientError, BotoCoreError, IkrError) as exc:
            # The journal stays for the next run; this user's trouble never blocks the others.
            reason = str(exc) if isinstance(exc, IkrError) else aws_reason(exc)
            logger.error("recovery failed", extra={"account_id": account.id, "user": item.user_name, "reason": reason})
            result.users.append(
                UserResult(
                    user=item.user_name,
                    outcome=Outcome.FAILED,
                    failed=True,
                    old_key_id=item.old_key_id,
                    detail=f"could not finish or undo an interrupted rotation: {reason}",
                )
            )
    if journal and not ctx.dry_run:
        items = ctx.table.for_account(account.id)
    pending: dict[str, list[PendingOld]] = {}
    for item in (*items, *ctx.being_deleted):
        if item.state in (State.SCHEDULED, State.FAILED):
            expires = from_epoch(item.expires_at) if item.expires_at is not None else ctx.now
            pending.setdefault(item.user_name, []).append(PendingOld(key_id=item.old_key_id, expires_at=expires))
    for user in managed_users(iam):
        decision = decide(user, ctx.scope, ctx.now, pending.get(user.name, []))
        try:
            result.users.append(_act(ctx, iam, decision))
        except (ClientError, BotoCoreError, IkrError) as exc:
            # One user's failure (e.g. the table throttled past every retry) never stops the others.
            reason = str(exc) if isinstance(exc, IkrError) else aws_reason(exc)
            logger.error("user failed", account_id=account.id, user=user.name, reason=reason)
            result.users.append(_failed(decision, f"failed: {reason}"))
    return result


def _act(ctx: RotationContext, iam: IAMClient, decision: Decision) -> UserResult:
    if decision.bad_input:
        logger.warning(
            "bad tag",
            extra={
                "account_id": ctx.scope.account.id,
                "user": decision.user,
                "problem": "; ".join([decision.reason, *decision.warnings]),
            },
        )
    result = _outcome(ctx, iam, decision)
    if not decision.warnings:
        return result
    # A warning (an unknown IKR: key, a malformed instruction key) never blocks the rotation, but
    # it is shown and counts as bad input, so the exit code tells someone to fix the tag.
    return result.model_copy(update={"detail": "; ".join([result.detail, *decision.warnings]), "failed": True})


def _outcome(ctx: RotationContext, iam: IAMClient, decision: Decision) -> UserResult:
    old_key = decision.key.key_id if decision.key else None
    if decision.action is Action.ROTATE:
        if ctx.dry_run:
            return UserResult(
                user=decision.user,
                outcome=Outcome.WOULD_ROTATE,
                detail=decision.reason,
                old_key_id=old_key,
                old_key_deleted_at=ctx.now + timedelta(days=decision.delete_after.days),
            )
        return _rotate_user(ctx, iam, decision)
    outcome = {Action.NOT_DUE: Outcome.NOT_DUE, Action.PENDING: Outcome.PENDING}.get(decision.action, Outcome.SKIPPED)
    return UserResult(
        user=decision.user, outcome=outcome, detail=decision.reason, failed=decision.bad_input, old_key_id=old_key
    )


def _rotate_user(ctx: RotationContext, iam: IAMClient, decision: Decision) -> UserResult:
    account = ctx.scope.account
    assert decision.key is not None
    assert decision.email is not None
    old_key = decision.key.key_id
    where: dict[str, object] = {"account_id": account.id, "user": decision.user}
    item = ExpiryItem(
        account_id=account.id,
        user_name=decision.user,
        old_key_id=old_key,
        state=State.STARTED,
        started_at=epoch(system_clock()),
        email=decision.email,
        run_id=ctx.run_id,
    )
    try:
        ctx.table.begin(item)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return _failed(decision, "another run is rotating this user right now; left alone")
        raise
    try:
        created = iam.create_access_key(UserName=decision.user)["AccessKey"]
    except (ClientError, BotoCoreError) as exc:
        ctx.table.remove(item)
        return _failed(decision, f"could not create a new key: {aws_reason(exc)}; old key {old_key} kept")
    new_key = created["AccessKeyId"]
    secret = SecretStr(created["SecretAccessKey"])
    del created
    item = ctx.table.advance(item, state=State.KEY_CREATED, new_key_id=new_key)
    deletes_at = ctx.now + timedelta(days=decision.delete_after.days)
    try:
        _deliver(ctx, decision, new_key, secret, old_key, deletes_at)
    except (DeliveryError, SecretStoreError, ClientError, BotoCoreError) as exc:
        reason = str(exc) if isinstance(exc, DeliveryError | SecretStoreError) else aws_reason(exc)
        _undo(iam, ctx.table, item)
        logger.error("delivery failed; new key removed, old key kept", extra={**where, "reason": reason})
        return _failed(
            decision, f"delivery failed ({reason}); new key {new_key} removed, old key {old_key} kept", new_key=new_key
        )
    ctx.table.advance(item, state=State.SCHEDULED, expires_at=epoch(deletes_at))
    logger.info(
        "rotated",
        extra={**where, "new_key_id": new_key, "old_key_id": old_key, "old_key_deleted_at": deletes_at.isoformat()},
    )
    return UserResult(
        user=decision.user,
        outcome=Outcome.ROTATED,
        failed=False,
        new_key_id=new_key,
        old_key_id=old_key,
        old_key_deleted_at=deletes_at,
        detail=f"new key {new_key} mailed to {decision.email}; old key {old_key} deleted at "
        f"{deletes_at:%Y-%m-%d %H:%M} UTC",
    )


def _deliver(
    ctx: RotationContext, decision: Decision, new_key: str, secret: SecretStr, old_key: str, deletes_at: datetime
) -> None:
    assert decision.email is not None
    encrypted_id: str | None = None
    if ctx.encrypt:
        store = UserKeyStore(aws.ssm(ctx.session), ctx.scope.account.id)
        fernet_key = store.get_or_create(decision.user)
        encrypted_id = crypto.encrypt(fernet_key, new_key)
        secret = SecretStr(crypto.encrypt(fernet_key, secret.get_secret_value()))
    notice = NewKeyNotice(
        account=ctx.scope.account,
        user=decision.user,
        email=decision.email,
        new_key_id=new_key,
        secret=secret,
        encrypted_key_id=encrypted_id,
        old_key_id=old_key,
        old_key_deleted_at=deletes_at,
        instructions=decision.instructions,
    )
    ctx.mailer.send(new_key_mail(notice))


def _undo(iam: IAMClient, table: ExpiryTable, item: ExpiryItem) -> None:
    """Remove a key that was never delivered, then its journal entry (in that order: a crash between
    the two leaves a journal the next run finishes)."""
    assert item.new_key_id is not None
    try:
        iam.delete_access_key(UserName=item.user_name, AccessKeyId=item.new_key_id)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "NoSuchEntity":
            raise
    table.remove(item)


def _recover(ctx: RotationContext, iam: IAMClient, item: ExpiryItem) -> UserResult:
    """Finish or undo a rotation an earlier run left half-way."""
    try:
        keys = access_keys(iam, item.user_name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "NoSuchEntity":
            raise
        if not ctx.dry_run:
            ctx.table.remove(item)
        return UserResult(
            user=item.user_name,
            outcome=_recovered(ctx),
            old_key_id=item.old_key_id,
            detail="the user of an interrupted rotation no longer exists; its journal entry is removed",
        )
    if item.state is State.KEY_CREATED:
        undelivered = [key.key_id for key in keys if key.key_id == item.new_key_id]
    else:
        started = from_epoch(item.started_at) - _CLOCK_SLACK
        undelivered = [key.key_id for key in keys if key.key_id != item.old_key_id and key.created >= started]
    if len(undelivered) > 1:
        return UserResult(
            user=item.user_name,
            outcome=Outcome.FAILED,
            failed=True,
            old_key_id=item.old_key_id,
            detail=f"interrupted rotation left keys {', '.join(undelivered)}; cannot tell which "
            "ikr made, so none is touched: remove the one nobody uses",
        )
    what = f"undelivered key {undelivered[0]}" if undelivered else "no key"
    if ctx.dry_run:
        return UserResult(
            user=item.user_name,
            outcome=Outcome.WOULD_RECOVER,
            old_key_id=item.old_key_id,
            detail=f"would undo an interrupted rotation ({what} to remove)",
        )
    if undelivered:
        item = item.model_copy(update={"new_key_id": undelivered[0]})
        _undo(iam, ctx.table, item)
    else:
        ctx.table.remove(item)
    logger.warning(
        "undid an interrupted rotation",
        account_id=item.account_id,
        user=item.user_name,
        removed_key_id=undelivered[0] if undelivered else None,
    )
    return UserResult(
        user=item.user_name,
        outcome=Outcome.RECOVERED,
        old_key_id=item.old_key_id,
        detail=f"undid an interrupted rotation: removed {what}; old key {item.old_key_id} kept",
    )


def _recovered(ctx: RotationContext) -> Outcome:
    return Outcome.WOULD_RECOVER if ctx.dry_run else Outcome.RECOVERED


def _failed(decision: Decision, detail: str, new_key: str | None = None) -> UserResult:
    return UserResult(
        user=decision.user,
        outcome=Outcome.FAILED,
        failed=True,
        detail=detail,
        old_key_id=decision.key.key_id if decision.key else None,
        new_key_id=new_key,
    )


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]
