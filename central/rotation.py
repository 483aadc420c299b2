"""Rotation of one account: finish or undo interrupted rotations, then rotate every due user.

The steps of one user's rotation and their journal live in `central.key_rotation`.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from central import aws
from central.errors import IkrError, aws_reason
from central.expiry_table import State, from_epoch
from central.inventory import managed_users
from central.key_rotation import JOURNAL_STATES, KeyRotation, RotationContext
from central.policy import Action, Decision, PendingOld, decide
from central.results import AccountResult, AccountStatus, Outcome, UserResult

__all__ = ["RotationContext", "new_run_id", "rotate_account"]

logger = Logger(service="ikr")


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
    rotation = KeyRotation(ctx, iam)
    journal = [item for item in items if item.state in JOURNAL_STATES]
    for item in journal:
        try:
            result.users.append(rotation.resume(item))
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
            result.users.append(_act(ctx, rotation, decision))
        except (ClientError, BotoCoreError, IkrError) as exc:
            # One user's failure (e.g. the table throttled past every retry) never stops the others.
            reason = str(exc) if isinstance(exc, IkrError) else aws_reason(exc)
            logger.error("user failed", account_id=account.id, user=user.name, reason=reason)
            result.users.append(_failed(decision, f"failed: {reason}"))
    return result


def _act(ctx: RotationContext, rotation: KeyRotation, decision: Decision) -> UserResult:
    if decision.bad_input:
        logger.warning(
            "bad tag",
            extra={
                "account_id": ctx.scope.account.id,
                "user": decision.user,
                "problem": "; ".join([decision.reason, *decision.warnings]),
            },
        )
    result = _outcome(ctx, rotation, decision)
    if not decision.warnings:
        return result
    # A warning (an unknown IKR: key, a malformed instruction key) never blocks the rotation, but
    # it is shown and counts as bad input, so the exit code tells someone to fix the tag.
    return result.model_copy(update={"detail": "; ".join([result.detail, *decision.warnings]), "failed": True})


def _outcome(ctx: RotationContext, rotation: KeyRotation, decision: Decision) -> UserResult:
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
        return rotation.rotate(decision)
    outcome = {Action.NOT_DUE: Outcome.NOT_DUE, Action.PENDING: Outcome.PENDING}.get(decision.action, Outcome.SKIPPED)
    return UserResult(
        user=decision.user, outcome=outcome, detail=decision.reason, failed=decision.bad_input, old_key_id=old_key
    )


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
