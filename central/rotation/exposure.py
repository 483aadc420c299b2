"""An exposed key (AWS Health's AWS_RISK_CREDENTIALS_EXPOSED), handled at once.

For each key id of the event, in the event's account: IAM's GetAccessKeyLastUsed names the user;
then, for a user ikr manages (IKR:EMAIL, account opted in):
- the key is the user's only key, Active: the user is rotated now (`central.rotation.on_demand`,
  reason "exposed", the old key kept EXPOSED_DELETE_AFTER_DAYS), then the key is quarantined;
- the key is the old key of a rotation ikr already scheduled: quarantined, no second rotation;
- the key is one of two, the other Active: a scheduled item is written for it (the other key is
  what the user goes on with), then quarantined;
- otherwise (the exposed key is the only Active one of two, or an Inactive only key) ikr cannot
  rotate and will not leave the user without an active key: the administrator is told.
Quarantined: the item records `exposed_at` once (a conditional write: the handling that wins it tells
the user, the administrator and the notifier, `Event.EXPOSURE_HANDLED`), its deletion moves to at most
EXPOSED_DELETE_AFTER_DAYS from now, and the key is made Inactive at once (`deactivated_at`, so the
destructor deletes it at that time without deactivating first or waiting for the new key's use). A
repeated event finds `exposed_at` and an Inactive key: nothing new.

A user ikr does not manage is left alone (the member role may change only keys of users tagged
IKR:EMAIL) and the administrator is told what to do by hand; so are an unknown key id or account. A
rotation of the user in progress makes this raise `ExposureNotFinished`: the Lambda's retries (then
its dead-letter queue) bring the event back once the rotation has scheduled the key.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from aws_lambda_powertools import Logger
from pydantic import BaseModel

from central.aws.errors import AwsAccessDenied, AwsError, AwsNotFound, reason_of
from central.aws.expiry_item import ExpiryItem, State, epoch, from_epoch
from central.aws.expiry_table import LeaseConflict
from central.collaborators import Services
from central.domain.errors import IkrError
from central.domain.exposure import Exposure
from central.domain.model import AccessKey, IamUser, KeyStatus
from central.domain.on_demand import EXPOSED, exposed_days
from central.domain.results import Outcome, UserResult
from central.domain.tags import EMAIL, TagProblem, has_email_tag, ikr_tags, parse_email
from central.notify.notice import Event, Notice
from central.rotation.account import new_run_id
from central.rotation.context import RotationContext, plain_mail
from central.rotation.lease import JOURNAL_STATES, lease_owner
from central.rotation.on_demand import OnDemandRefused, Refusal, find_account, managed_scope, rotate_user
from central.rotation.run import AccountWork, account_context

logger = Logger(service="ikr")


class Handled(StrEnum):
    ROTATED = "rotated"  # rotated now; the exposed key Inactive, deleted after EXPOSED_DELETE_AFTER_DAYS
    QUARANTINED = "quarantined"  # an old key ikr had scheduled, or one of two: Inactive now, deletion moved
    ALREADY_HANDLED = "already-handled"  # a repeated event: nothing new
    NOT_MANAGED = "not-managed"  # a user or account ikr does not manage: left alone, the administrator told
    UNKNOWN_KEY = "unknown-key"  # no such key (or user) in the account: the administrator told
    KEPT = "kept"  # cannot be made Inactive without leaving the user no active key: the administrator told
    FAILED = "failed"  # the rotation failed: the key stays Active (AWS's quarantine policy applies)
    IN_PROGRESS = "in-progress"  # a rotation of the user is under way: the event is to come back


class KeyHandled(BaseModel):
    account_id: str
    key_id: str
    outcome: Handled
    detail: str
    user: str | None = None
    new_key_id: str | None = None
    deletes_at: datetime | None = None


class ExposureNotFinished(IkrError):
    """A rotation of the user is under way: the event is to come back (Lambda's retries, then its DLQ)."""


def handle_exposure(services: Services, exposure: Exposure) -> list[KeyHandled]:
    """Every key of the event handled; raises ExposureNotFinished after the others when one must wait."""
    services.table.check()
    account_id = exposure.account_id
    try:
        account, standalone = find_account(services, account_id)
        scope = managed_scope(services, account, standalone)
    except OnDemandRefused as exc:
        return [_not_acted_on(services, exposure, key_id, Handled.NOT_MANAGED, str(exc)) for key_id in exposure.key_ids]
    ctx = account_context(services, AccountWork(scope, services.clock(), new_run_id()))
    try:
        handled = [_handle_key(services, ctx, exposure, key_id) for key_id in exposure.key_ids]
    finally:
        services.broker.release(account_id)
    waiting = [entry for entry in handled if entry.outcome is Handled.IN_PROGRESS]
    if waiting:
        raise ExposureNotFinished("; ".join(entry.detail for entry in waiting))
    return handled


def _handle_key(services: Services, ctx: RotationContext, exposure: Exposure, key_id: str) -> KeyHandled:
    iam = ctx.member.iam
    account_id = exposure.account_id
    try:
        user_name = iam.owner_of(key_id)
    except (AwsNotFound, AwsAccessDenied) as exc:
        return _not_acted_on(services, exposure, key_id, Handled.UNKNOWN_KEY, exc.reason)
    user = next((listed.user for listed in iam.listed_users() if listed.user.name == user_name), None)
    if user is None:
        detail = f"IAM names no existing user for key {key_id} in account {account_id}"
        return _not_acted_on(services, exposure, key_id, Handled.UNKNOWN_KEY, detail)
    if not has_email_tag(user.tags):
        detail = (
            f"user {user.name} has no IKR:EMAIL tag: ikr does not manage it (its member role may change only keys "
            "of users it manages); make the key Inactive by hand"
        )
        return _not_acted_on(services, exposure, key_id, Handled.NOT_MANAGED, detail, user.name)
    try:
        return _managed(services, ctx, exposure, key_id, user)
    except ExposureNotFinished:
        raise
    except AwsError as exc:
        if exc.retryable:  # throttled past every retry, AWS unreachable: the event comes back
            raise ExposureNotFinished(f"account {account_id} user {user.name}: {exc.reason}") from exc
        detail = f"could not handle the exposed key of user {user.name}: {exc.reason}"
        return _not_acted_on(services, exposure, key_id, Handled.FAILED, detail, user.name)
    except IkrError as exc:
        detail = f"could not handle the exposed key of user {user.name}: {reason_of(exc)}"
        return _not_acted_on(services, exposure, key_id, Handled.FAILED, detail, user.name)


def _managed(services: Services, ctx: RotationContext, exposure: Exposure, key_id: str, user: IamUser) -> KeyHandled:
    items = ctx.table.for_user(exposure.account_id, user.name)
    scheduled = next((item for item in items if item.old_key_id == key_id and item.state is State.SCHEDULED), None)
    if scheduled is not None:
        return _quarantine(services, ctx, exposure, scheduled)
    journal = next((item for item in items if item.state in JOURNAL_STATES), None)
    if journal is not None:
        detail = f"a rotation of user {user.name} is in progress (run {journal.run_id or '?'}); the event comes back"
        logger.warning("exposed key: rotation in progress", account_id=exposure.account_id, user=user.name)
        return KeyHandled(
            account_id=exposure.account_id, key_id=key_id, user=user.name, outcome=Handled.IN_PROGRESS, detail=detail
        )
    keys = ctx.member.iam.access_keys(user.name)
    exposed = next((key for key in keys if key.key_id == key_id), None)
    if exposed is None:
        detail = f"user {user.name} has no key {key_id} any more (deleted meanwhile)"
        return _not_acted_on(services, exposure, key_id, Handled.UNKNOWN_KEY, detail, user.name)
    others = [key for key in keys if key.key_id != key_id and key.status is KeyStatus.ACTIVE]
    if exposed.status is KeyStatus.ACTIVE and len(keys) == 1:
        return _rotate(services, ctx, exposure, key_id, user)
    if others:
        return _schedule_beside(services, ctx, exposure, exposed, others[0], user)
    detail = (
        f"key {key_id} of user {user.name} is {exposed.status.value} and the user has no other Active key: ikr "
        "cannot rotate it and does not leave the user without an active key; delete or deactivate it by hand"
    )
    return _not_acted_on(services, exposure, key_id, Handled.KEPT, detail, user.name)


def _rotate(services: Services, ctx: RotationContext, exposure: Exposure, key_id: str, user: IamUser) -> KeyHandled:
    days = exposed_days(services.settings.EXPOSED_DELETE_AFTER_DAYS)
    done = rotate_user(ctx, user, EXPOSED, days)
    if isinstance(done, Refusal) or done.outcome is not Outcome.ROTATED:
        why = done.reason if isinstance(done, Refusal) else done.detail
        detail = (
            f"the rotation of user {user.name} did not happen ({why}); key {key_id} stays Active so the user keeps "
            "a working key (AWS's quarantine policy still limits it): rotate or deactivate it by hand"
        )
        return _not_acted_on(services, exposure, key_id, Handled.FAILED, detail, user.name)
    item = ctx.table.get(exposure.account_id, f"{user.name}#{key_id}")
    if item is None or item.state is not State.SCHEDULED:
        raise IkrError(f"account {exposure.account_id} user {user.name}: rotated, but its expiry item is not there")
    return _quarantine(services, ctx, exposure, item, done)


def _schedule_beside(
    services: Services, ctx: RotationContext, exposure: Exposure, exposed: AccessKey, other: AccessKey, user: IamUser
) -> KeyHandled:
    """One of two keys exposed, the other Active: the exposed key is scheduled like an old key, the other
    is the one the user goes on with (no rotation: a user with two keys is never rotated)."""
    now = ctx.time()
    deletes_at = epoch(now + timedelta(days=services.settings.EXPOSED_DELETE_AFTER_DAYS))
    item = ExpiryItem(
        account_id=exposure.account_id,
        user_name=user.name,
        old_key_id=exposed.key_id,
        new_key_id=other.key_id,
        state=State.SCHEDULED,
        started_at=epoch(now),
        email=_email(user),
        run_id=lease_owner(ctx.run_id),
        delete_after_days=services.settings.EXPOSED_DELETE_AFTER_DAYS,
        delete_at=deletes_at,
        expires_at=deletes_at,
        reason=EXPOSED,
    )
    if not ctx.table.add(item):  # written by a twin delivery of the event meanwhile
        found = ctx.table.get(item.account_id, item.item_key)
        if found is None or found.state is not State.SCHEDULED:
            raise ExposureNotFinished(f"{item.where}: its expiry item changed meanwhile; the event comes back")
        item = found
    return _quarantine(services, ctx, exposure, item)


def _email(user: IamUser) -> str | None:
    values, _ = ikr_tags(user.tags)
    try:
        return parse_email(EMAIL, values[EMAIL])
    except (KeyError, TagProblem):
        return None


def _quarantine(
    services: Services, ctx: RotationContext, exposure: Exposure, item: ExpiryItem, rotated: UserResult | None = None
) -> KeyHandled:
    now = ctx.time()
    assert item.expires_at is not None
    deletes_at = min(from_epoch(item.expires_at), now + timedelta(days=services.settings.EXPOSED_DELETE_AFTER_DAYS))
    mine = False
    if item.exposed_at is None:
        try:
            item = ctx.table.expose(
                item,
                exposed_at=epoch(now),
                deactivated_at=item.deactivated_at or epoch(now),
                expires_at=epoch(deletes_at),
                delete_at=epoch(deletes_at),
                reason=item.reason or EXPOSED,
            )
            mine = True
        except LeaseConflict as exc:
            if exc.found is None or exc.found.exposed_at is None:
                changed = f"{item.where}: its expiry item changed meanwhile; the event comes back"
                raise ExposureNotFinished(changed) from None
            item = exc.found
    deactivated = _deactivate(ctx, item)
    outcome = Handled.ROTATED if rotated is not None else Handled.QUARANTINED
    if not mine and not deactivated:
        detail = f"key {item.old_key_id} of user {item.user_name} was handled already: Inactive, deleted at " + (
            f"{from_epoch(item.expires_at or 0):%Y-%m-%d %H:%M} UTC"
        )
        return KeyHandled(
            account_id=item.account_id,
            key_id=item.old_key_id,
            user=item.user_name,
            outcome=Handled.ALREADY_HANDLED,
            detail=detail,
            new_key_id=item.new_key_id,
            deletes_at=from_epoch(item.expires_at or 0),
        )
    when = from_epoch(item.expires_at or 0)
    done = (
        f"user {item.user_name} rotated now: new key {item.new_key_id} delivered; "
        if rotated is not None
        else f"user {item.user_name} goes on with key {item.new_key_id}; "
    )
    detail = f"{done}exposed key {item.old_key_id} made Inactive, deleted at {when:%Y-%m-%d %H:%M} UTC"
    if mine:
        _tell(services, ctx, exposure, item, detail)
    logger.warning("exposed key handled", account_id=item.account_id, user=item.user_name, key_id=item.old_key_id)
    return KeyHandled(
        account_id=item.account_id,
        key_id=item.old_key_id,
        user=item.user_name,
        outcome=outcome,
        detail=detail,
        new_key_id=item.new_key_id,
        deletes_at=when,
    )


def _deactivate(ctx: RotationContext, item: ExpiryItem) -> bool:
    """Make the exposed key Inactive unless it is already; True when this call changed it."""
    iam = ctx.member.iam
    key = next((key for key in iam.access_keys(item.user_name) if key.key_id == item.old_key_id), None)
    if key is None or key.status is not KeyStatus.ACTIVE:
        return False
    iam.deactivate_access_key(item.user_name, item.old_key_id)
    return True


def _what_to_check(exposure: Exposure, key_id: str, user: str | None) -> list[str]:
    where = exposure.description or "AWS gave no description"
    reported = (
        f"AWS reported access key {key_id} of account {exposure.account_id} exposed (AWS Health event "
        f"{exposure.event_arn}, {exposure.found_at}): {where}"
        if exposure.reported_by is None
        else f"Access key {key_id} of account {exposure.account_id} was reported exposed by {exposure.reported_by} "
        f"({exposure.found_at}): {where}"
    )
    lines = [
        reported,
        f"Check CloudTrail for every use of that key, in every region: aws cloudtrail lookup-events "
        f"--lookup-attributes AttributeKey=AccessKeyId,AttributeValue={key_id}",
    ]
    if user is not None and exposure.reported_by is None:  # only AWS attaches its quarantine policy
        lines.append(
            "AWS attached its quarantine policy (AWSCompromisedKeyQuarantine...) to the user: review what the "
            f"key did, then detach it: aws iam list-attached-user-policies --user-name {user}"
        )
    return lines


def _tell(services: Services, ctx: RotationContext, exposure: Exposure, item: ExpiryItem, detail: str) -> None:
    lines = [*_what_to_check(exposure, item.old_key_id, item.user_name), f"What ikr did: {detail}."]
    ctx.tell_admin(f"exposed key {item.old_key_id} handled", lines, item, item.old_key_id)
    if item.email:
        try:
            services.mailer.send(plain_mail(item.email, f"Your AWS access key {item.old_key_id} was exposed", lines))
        except IkrError as exc:  # the key is handled; the administrator has the same lines
            logger.error("exposure mail not sent", account_id=item.account_id, user=item.user_name, reason=str(exc))
    services.notifier.notify(
        Notice.about(
            item,
            Event.EXPOSURE_HANDLED,
            f"ikr: exposed key {item.old_key_id} of {item.user_name} in account {item.account_id}: {detail}",
            at=from_epoch(item.expires_at or 0),
            details={"reason": EXPOSED, "found": exposure.description, "health_event": exposure.event_arn},
        )
    )


def _not_acted_on(
    services: Services, exposure: Exposure, key_id: str, outcome: Handled, detail: str, user: str | None = None
) -> KeyHandled:
    """A key ikr leaves as it is: the administrator is told what AWS found and what to do."""
    lines = [*_what_to_check(exposure, key_id, user), f"ikr did not change the key: {detail}."]
    services.admin.notify(
        f"exposed key {key_id} NOT handled ({outcome.value})", lines, account_id=exposure.account_id, key_id=key_id
    )
    services.notifier.notify(
        Notice(
            event=Event.EXPOSURE_HANDLED,
            text=f"ikr: exposed key {key_id} in account {exposure.account_id} not handled: {detail}",
            account_id=exposure.account_id,
            user=user,
            old_key_id=key_id,
            details={"reason": EXPOSED, "outcome": outcome.value, "found": exposure.description},
        )
    )
    return KeyHandled(account_id=exposure.account_id, key_id=key_id, user=user, outcome=outcome, detail=detail)
