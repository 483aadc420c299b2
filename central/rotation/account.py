"""Rotation of one account: finish or undo interrupted rotations, then rotate every due user.

The steps of one user's rotation and their journal live in `central.rotation.rotate`; the scan that
finds the users (and decides most of them from the credential report) in `central.rotation.scan`.
"""

from __future__ import annotations

import dataclasses
import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger

from central.aws.credential_report import CredentialReport
from central.aws.errors import AwsError, reason_of
from central.aws.expiry_item import pending_old_keys
from central.aws.iam_inventory import ListedUser
from central.domain.errors import IkrError
from central.domain.policy import Action, Decision, PendingOld, decide
from central.domain.results import AccountResult, AccountStatus, Outcome, UserResult
from central.rotation.context import RotationContext
from central.rotation.lease import JOURNAL_STATES, in_progress_detail, lease_expired, lease_owner
from central.rotation.remind import Reminding
from central.rotation.rotate import KeyRotation
from central.rotation.scan import report_keys, scan_account

if TYPE_CHECKING:
    from central.aws.iam import IamAccount

__all__ = ["AccountPart", "RotationContext", "new_run_id", "rotate_account", "rotate_account_part"]

logger = Logger(service="ikr")


@dataclass(frozen=True)
class AccountPart:
    """What one pass over an account did; `left` users were not started because time ran low."""

    result: AccountResult
    left: int = 0


def _always() -> bool:
    return True


def rotate_account(ctx: RotationContext) -> AccountResult:
    return rotate_account_part(ctx).result


def rotate_account_part(ctx: RotationContext, keep_going: Callable[[], bool] = _always) -> AccountPart:
    """Rotate the account; before starting each due user's rotation ask `keep_going`, and stop there
    if it says no (the Lambda's time runs low). Rerunning the account is safe: rotated users are
    then pending, not-due ones not due again, and an interrupted one is resumed from its journal."""
    account = ctx.scope.account
    result = AccountResult(
        account_id=account.id,
        account_name=account.name,
        ou_path=account.ou_path,
        status=AccountStatus.DONE,
        detail=f"opted in by {ctx.scope.opt_in}",
    )
    iam = ctx.member.iam
    records = ctx.table.account_records(account.id)
    items = records.items
    if not ctx.owner:
        ctx = dataclasses.replace(ctx, owner=lease_owner(ctx.run_id))
    reminding = Reminding(ctx, records.reminders)
    # Made only when a user is resumed or rotated (its key stores are made when first used).
    rotation = functools.cache(lambda: KeyRotation(ctx))
    journal = [item for item in items if item.state in JOURNAL_STATES]
    # A live lease belongs to another run (or another delivery of this account's message): its
    # user is left to it. Only an expired lease is a crashed run's, to be finished or undone.
    held = {item.user_name for item in journal if not lease_expired(item, ctx.time())}
    for item in journal:
        if item.user_name in held:
            result.users.append(
                UserResult(
                    user=item.user_name,
                    outcome=Outcome.IN_PROGRESS,
                    detail=in_progress_detail(item),
                    old_key_id=item.old_key_id,
                    new_key_id=item.new_key_id,
                )
            )
            continue
        try:
            result.users.append(rotation().resume(item))
        except IkrError as exc:
            # The journal stays for the next run; this user's trouble never blocks the others.
            reason = reason_of(exc)
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
    # Whoever has an item (journal, old key pending, just swept) is decided on live keys: ikr
    # changed their keys, maybe after the credential report was made.
    touched = {item.user_name for item in (*journal, *ctx.being_deleted)}
    if journal and not ctx.dry_run:
        items = ctx.table.for_account(account.id)
    touched.update(item.user_name for item in items)
    pending = pending_old_keys((*items, *ctx.being_deleted), ctx.now)
    # A journal that outlived its recovery (e.g. a re-delivery that failed) has its own row already;
    # a dry run recovers nothing, so it goes on to show what the user's decision would be afterwards.
    unfinished = held | (set() if ctx.dry_run else {item.user_name for item in items if item.state in JOURNAL_STATES})
    scan = scan_account(iam)
    for index, listed in enumerate(scan.managed):
        name = listed.user.name
        if name in unfinished:
            continue
        try:
            decision, reported = _decide(
                ctx, iam, listed, scan.report, pending.get(name, []), name in touched, reminding
            )
        except AwsError as exc:
            reason = exc.reason
            logger.error("user failed", account_id=account.id, user=name, reason=reason)
            result.users.append(
                UserResult(user=name, outcome=Outcome.FAILED, failed=True, detail=f"failed to list its keys: {reason}")
            )
            continue
        if decision.action is Action.ROTATE and not ctx.dry_run and not keep_going():
            left = len(scan.managed) - index
            logger.warning("time ran low; rest of the account left for later", account_id=account.id, left=left)
            result.detail = f"{result.detail}; time ran low: {left} user(s) left for a later pass"
            return AccountPart(result, left)
        try:
            done = _act(ctx, rotation, decision)
        except IkrError as exc:
            # One user's failure (e.g. the table throttled past every retry) never stops the others.
            reason = reason_of(exc)
            logger.error("user failed", account_id=account.id, user=name, reason=reason)
            done = _failed(decision, f"failed: {reason}")
        result.users.append(_shown(done, decision, reported, reminding))
    return AccountPart(result)


def _shown(done: UserResult, decision: Decision, reported: bool, reminding: Reminding) -> UserResult:
    """The user's row: a decision from the report names no key ids (it has none to show, and its key
    needs no reminder: `Reminding.wants_live_keys`); a reminder is said after the user's own outcome,
    which it never changes (central.rotation.remind)."""
    if reported:
        return replace(done, old_key_id=None)
    return replace(done, detail=done.detail + reminding.remind(decision))


def _decide(
    ctx: RotationContext,
    iam: IamAccount,
    listed: ListedUser,
    report: CredentialReport | None,
    pending: list[PendingOld],
    touched: bool,
    reminding: Reminding,
) -> tuple[Decision, bool]:
    """The user's decision, and whether it came from the credential report.

    The report is trusted only to say "not due" (it may be hours old) or that the user is exempt
    (IKR:EXEMPT_UNTIL, whatever its keys); anything else, and a key due for its reminder, is decided
    again on the keys ListAccessKeys gives now."""
    if not touched:
        reported = report_keys(listed, report)
        if reported is not None:
            decision = decide(
                listed.user.model_copy(update={"keys": reported}), ctx.scope, ctx.now, [], ctx.delivery_prefix
            )
            if (decision.action is Action.NOT_DUE and not reminding.wants_live_keys(decision)) or decision.exempt:
                return decision, True
    live = listed.user.model_copy(update={"keys": iam.access_keys(listed.user.name)})
    return decide(live, ctx.scope, ctx.now, pending, ctx.delivery_prefix), False


def _act(ctx: RotationContext, rotation: Callable[[], KeyRotation], decision: Decision) -> UserResult:
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
    return replace(result, detail="; ".join([result.detail, *decision.warnings]), failed=True)


def _outcome(ctx: RotationContext, rotation: Callable[[], KeyRotation], decision: Decision) -> UserResult:
    old_key = decision.key.key_id if decision.key else None
    if decision.action is Action.ROTATE:
        if ctx.dry_run:
            went = (
                f"written to {decision.delivery.where}" if decision.delivery.to_store else f"mailed to {decision.email}"
            )
            wait = "; old key kept until the new one is in use" if decision.verify_use else ""
            return UserResult(
                user=decision.user,
                outcome=Outcome.WOULD_ROTATE,
                detail=f"{decision.reason}; new key would be {went}{wait}",
                old_key_id=old_key,
                old_key_deleted_at=ctx.now + timedelta(days=decision.delete_after.days),
            )
        postponed = None if decision.delivery.to_store else ctx.mailer.postponed()
        if postponed is not None:
            # No key is made that could not be mailed: the user waits for a run whose mail goes out.
            return UserResult(
                user=decision.user,
                outcome=Outcome.SKIPPED,
                detail=f"{decision.reason}; rotation postponed: {postponed}; old key kept, a later run rotates it",
                old_key_id=old_key,
            )
        return rotation().rotate(decision)
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
