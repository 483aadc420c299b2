"""A rotation asked for now, regardless of key age: one user, or every opted-in user of one account.

`ikr rotate --account A [--user U] --now-due --reason "..."` and the rotator's `{"ikr": "rotate"}`
event come here; so does an exposed key (`central.rotation.exposure`, reason "exposed"). It is the
scheduled rotation with the age check replaced by "due on demand" (`central.domain.on_demand`): the
same lease, journal, delivery outcomes and undo (`KeyRotation.rotate`); the reason is recorded in the
journal item, the row and the rotation's notice.

Refused, with the reason, when the user has two keys (or none, or an inactive only key, or a bad tag),
is not opted in (no IKR:EMAIL, account not in scope), has a rotation in progress (a journal item,
leased or left by a dead run) or an old key still pending deletion, or when the user or the account
does not exist. Asked for one user, a refusal is an `OnDemandRefused` (the CLI's exit 2); asked for
an account, each refused user is a skipped row and the others are rotated.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from aws_lambda_powertools import Logger

from central.aws.expiry_item import pending_old_keys
from central.collaborators import Services
from central.domain.errors import UsageError
from central.domain.model import Account, IamUser
from central.domain.on_demand import due_on_demand
from central.domain.policy import decide
from central.domain.results import AccountResult, AccountStatus, Outcome, RunResult, UserResult
from central.domain.scope import AccountScope, Days
from central.domain.tags import has_email_tag
from central.rotation.account import new_run_id
from central.rotation.context import RotationContext
from central.rotation.lease import JOURNAL_STATES, in_progress_detail, lease_expired
from central.rotation.rotate import KeyRotation
from central.rotation.run import AccountWork, account_context, gate, named_accounts, scope_of

logger = Logger(service="ikr")


class OnDemandRefused(UsageError):
    """ikr will not rotate what was asked for; the message names the account, user and why."""


@dataclass(frozen=True)
class Refusal:
    """Why a user is not rotated on demand; `bad_input`: a tag of the user's to fix (a failure of the run,
    as in a scheduled one)."""

    reason: str
    bad_input: bool = False


@dataclass(frozen=True)
class OnDemand:
    account_id: str
    reason: str  # checked by `central.domain.on_demand.check_reason`
    user: str | None = None  # None: every opted-in user of the account
    dry_run: bool = False


def rotate_on_demand(services: Services, request: OnDemand) -> RunResult:
    """One account's row with a row per user asked for; OnDemandRefused when nothing may be done."""
    services.table.check()
    now = services.clock()
    run = RunResult(run_id=new_run_id(), now=now, dry_run=request.dry_run)
    account, run.standalone = find_account(services, request.account_id)
    scope = managed_scope(services, account, run.standalone)
    ctx = account_context(services, AccountWork(scope, now, run.run_id, request.dry_run))
    row = AccountResult(
        account_id=account.id,
        account_name=account.name,
        ou_path=account.ou_path,
        status=AccountStatus.DONE,
        detail=f"on demand: {request.reason}",
    )
    try:
        for user in _users(ctx, request.user):
            done = rotate_user(ctx, user, request.reason)
            if isinstance(done, Refusal):
                if request.user is not None:
                    raise OnDemandRefused(f"account {account.id} user {user.name}: {done.reason}")
                done = UserResult(user=user.name, outcome=Outcome.SKIPPED, detail=done.reason, failed=done.bad_input)
            row.users.append(done)
    finally:
        services.broker.release(account.id)
    logger.info(
        "on-demand rotation", account_id=account.id, user=request.user, reason=request.reason, run_id=run.run_id
    )
    run.accounts = [row]
    return run


def find_account(services: Services, account_id: str) -> tuple[Account, bool]:
    """The account as a run sees it (its OU path), and whether the caller is in no Organization.

    Looked up directly (`central.aws.org_lookup`: 4 Organizations calls + 3 per OU level), not by
    walking the tree: an exposed key is acted on in seconds whatever the Organization's size. A caller
    in no Organization has its own account alone, as a run does."""
    accounts, standalone, _missing = named_accounts(services, [account_id])
    if not accounts:
        raise OnDemandRefused(f"account {account_id} is not an ACTIVE account of this Organization")
    return accounts[0], standalone


def managed_scope(services: Services, account: Account, standalone: bool) -> AccountScope:
    """The account's policy; OnDemandRefused when ikr does not work the account (not opted in, a bad tag)."""
    scope = scope_of(services, account, standalone)
    skipped = gate(scope)
    if skipped is not None:
        raise OnDemandRefused(f"account {account.id} is not worked by ikr ({skipped.status.value}): {skipped.detail}")
    return scope


def _users(ctx: RotationContext, name: str | None) -> list[IamUser]:
    listed = [entry.user for entry in ctx.member.iam.listed_users(managed_only=name is None)]
    if name is None:
        return listed
    user = next((user for user in listed if user.name == name), None)
    account_id = ctx.scope.account.id
    if user is None:
        raise OnDemandRefused(f"account {account_id} has no IAM user {name}")
    if not has_email_tag(user.tags):
        raise OnDemandRefused(f"account {account_id} user {name} is not opted in: it has no IKR:EMAIL tag")
    return [user]


def rotate_user(
    ctx: RotationContext, user: IamUser, reason: str, delete_after: Days | None = None
) -> UserResult | Refusal:
    """The user rotated now through the scheduled rotation's steps, or why not."""
    account_id = ctx.scope.account.id
    items = ctx.table.for_user(account_id, user.name)
    journal = next((item for item in items if item.state in JOURNAL_STATES), None)
    if journal is not None:
        if not lease_expired(journal, ctx.time()):
            return Refusal(f"not rotated: {in_progress_detail(journal)}")
        return Refusal(
            f"not rotated: an interrupted rotation (run {journal.run_id or '?'}, state {journal.state.value}) "
            "waits for the next `ikr rotate` to finish or undo it"
        )
    keys = ctx.member.iam.access_keys(user.name)
    pending = pending_old_keys(items, ctx.now).get(user.name, [])
    scheduled = decide(user.model_copy(update={"keys": keys}), ctx.scope, ctx.now, pending, ctx.delivery_prefix)
    decision = due_on_demand(scheduled, reason, delete_after)
    if isinstance(decision, str):
        return Refusal(decision, bad_input=bool(scheduled.problems))
    old_key = decision.key.key_id if decision.key else None
    if ctx.dry_run:
        return UserResult(user=user.name, outcome=Outcome.WOULD_ROTATE, detail=decision.reason, old_key_id=old_key)
    postponed = None if decision.delivery.to_store else ctx.mailer.postponed()
    if postponed is not None:  # no key is made that could not be mailed
        return UserResult(
            user=user.name,
            outcome=Outcome.FAILED,
            failed=True,
            detail=f"{decision.reason}; not rotated: {postponed}; old key kept",
            old_key_id=old_key,
        )
    done = KeyRotation(ctx).rotate(decision)
    return replace(done, detail=f"on demand ({reason}): {done.detail}")
