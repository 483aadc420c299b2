"""What the destructor tells people: the owner's mails (the old key still used, the new key not yet in
use) and the administrator's notices. Each is sent by the one handling of a stream record that
claimed its notices (`ExpiryTable.claim_notices`), so a record delivered twice tells no one twice."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from aws_lambda_powertools import Logger

from central.aws.expiry_item import ExpiryItem, from_epoch
from central.domain.delivery import recorded_delivery
from central.domain.errors import DeliveryError
from central.notify.admin import AdminNotifier
from central.notify.mail_content import (
    LastUse,
    OldKeyDeletedNotice,
    OldKeyStillUsedNotice,
    SwitchPendingNotice,
    old_key_deleted_mail,
    old_key_still_used_mail,
    switch_pending_mail,
)
from central.notify.mailers.base import Mailer
from central.notify.notice import Event, Notice, Notifier

logger = Logger(service="ikr")


def _where(item: ExpiryItem) -> dict[str, object]:
    return {"account_id": item.account_id, "user": item.user_name, "old_key_id": item.old_key_id}


def remind_still_used(
    mailer: Mailer | None, notifier: Notifier, item: ExpiryItem, action: str, deleted_at: datetime | None
) -> bool:
    """The old key was used after the new key was mailed (`item.handling` says when and where); True
    when the owner's reminder was mailed."""
    handling = item.handling
    assert handling is not None
    assert handling.last_used_at is not None
    used_at = from_epoch(handling.last_used_at)
    last_use = LastUse(at=used_at, service=handling.last_used_service or "?", region=handling.last_used_region or "?")
    logger.warning(
        "old key still used after the new key was mailed",
        extra={
            **_where(item),
            "last_used": used_at.isoformat(),
            "service": last_use.service,
            "region": last_use.region,
        },
    )
    notifier.notify(
        Notice.about(
            item,
            Event.OLD_KEY_STILL_USED,
            f"ikr: {item.where} was still used after the new key was mailed: {last_use.service} in "
            f"{last_use.region} at {used_at:%Y-%m-%d %H:%M} UTC; it is {action} now",
            at=used_at,
            details={"service": last_use.service, "region": last_use.region},
        )
    )
    if mailer is None or item.email is None:
        return False
    notice = OldKeyStillUsedNotice(
        account_id=item.account_id,
        user=item.user_name,
        email=item.email,
        old_key_id=item.old_key_id,
        new_key_id=item.new_key_id,
        last_use=last_use,
        action=action,
        deleted_at=deleted_at,
    )
    try:
        mailer.send(old_key_still_used_mail(notice))
    except DeliveryError as exc:
        # A reminder is a courtesy: its failure never holds back the retirement the mail promised.
        logger.error("last-use reminder not mailed", extra={**_where(item), "reason": str(exc)})
        return False
    return True


def old_key_deleted(mailer: Mailer | None, item: ExpiryItem, alias: Callable[[], str]) -> None:
    """The user's mail once the old key is deleted, as the original sent it (`Old Access Key Pair
    Deleted`); a courtesy: its failure is logged and changes nothing."""
    if mailer is None or item.email is None:
        return
    notice = OldKeyDeletedNotice(
        account_id=item.account_id,
        account_alias=alias(),
        user=item.user_name,
        email=item.email,
        old_key_id=item.old_key_id,
        new_key_id=item.new_key_id,
    )
    try:
        mailer.send(old_key_deleted_mail(notice))
    except DeliveryError as exc:
        logger.error("deletion mail not sent", extra={**_where(item), "reason": str(exc)})


def switch_pending(
    mailer: Mailer | None, item: ExpiryItem, retire_by: datetime, forced: bool, action: str = "deleted"
) -> None:
    """The owner's mail: the new key is not in use yet (forced: and the old key went anyway)."""
    if mailer is None or item.email is None or item.new_key_id is None:
        return
    notice = SwitchPendingNotice(
        account_id=item.account_id,
        user=item.user_name,
        email=item.email,
        new_key_id=item.new_key_id,
        old_key_id=item.old_key_id,
        where=recorded_delivery(item.delivery).where,
        retire_by=retire_by,
        forced=forced,
        action=action,
    )
    try:
        mailer.send(switch_pending_mail(notice))
    except DeliveryError as exc:
        logger.error(
            "owner not told about the switch",
            extra={"account_id": item.account_id, "user": item.user_name, "reason": str(exc)},
        )


def postponed(mailer: Mailer | None, notifier: Notifier, item: ExpiryItem, retire_by: datetime, detail: str) -> None:
    switch_pending(mailer, item, retire_by, forced=False)
    notifier.notify(Notice.about(item, Event.RETIREMENT_POSTPONED, f"ikr: {detail}", at=retire_by))


def retired_unused(
    mailer: Mailer | None, admin: AdminNotifier | None, item: ExpiryItem, retire_by: datetime, action: str
) -> None:
    switch_pending(mailer, item, retire_by, forced=True, action=action)
    lines = [
        f"The new key {item.new_key_id} of IAM user {item.user_name} in account {item.account_id} was never used; "
        f"the grace time ended at {retire_by:%Y-%m-%d %H:%M} UTC and the old key {item.old_key_id} was {action}.",
    ]
    if admin is not None:
        admin.notify("old key retired before the switch", lines, account_id=item.account_id, user=item.user_name)


def given_up(admin: AdminNotifier | None, notifier: Notifier, item: ExpiryItem, reason: str) -> None:
    lines = [
        f"ikr gave up deleting old access key {item.old_key_id} of IAM user {item.user_name} in account "
        f"{item.account_id} after {item.attempts} attempts.",
        f"Last error: {reason}",
        "The key is still there. Fix the cause, then delete the key yourself, or set the expiry item's "
        "state back to `scheduled` with an `expires_at` in the past (see the README, Operations).",
    ]
    if admin is not None:
        admin.notify("destruction given up", lines, **_where(item), attempts=item.attempts)
    else:
        logger.error("destruction given up", extra={**_where(item), "attempts": item.attempts, "reason": reason})
    notifier.notify(
        Notice.about(
            item,
            Event.DESTRUCTION_GIVEN_UP,
            " ".join(lines[:2]),
            details={"attempts": item.attempts, "last_error": reason},
        )
    )


def unrecorded_deleted(admin: AdminNotifier | None, notifier: Notifier, item: ExpiryItem, detail: str) -> None:
    lines = [
        f"ikr deleted access key {item.old_key_id} of IAM user {item.user_name} in account {item.account_id}.",
        "It appeared during an interrupted rotation and ikr never recorded it; ikr made it inactive and told "
        "the user, and nobody re-activated it since.",
    ]
    if admin is not None:
        admin.notify("unrecorded key deleted", lines, **_where(item))
    notifier.notify(Notice.about(item, Event.OLD_KEY_RETIRED, f"ikr: {detail}", details={"unrecorded": True}))


def unrecorded_kept(admin: AdminNotifier | None, notifier: Notifier, item: ExpiryItem) -> None:
    lines = [
        f"Access key {item.old_key_id} of IAM user {item.user_name} in account {item.account_id} was re-activated; "
        "ikr leaves it alone.",
        "It appeared during an interrupted rotation and ikr never recorded it, so ikr made it inactive; someone "
        "made it active again, so a person wants it. ikr will not delete it. While the user has two keys, ikr does "
        "not rotate the user: delete the key that is not needed.",
    ]
    if admin is not None:
        admin.notify("unrecorded key re-activated; kept", lines, **_where(item))
    else:
        logger.warning("unrecorded key re-activated; kept", extra=_where(item))
    # No event of its own yet: "ikr gave up deleting it" for a webhook's reader.
    notifier.notify(
        Notice.about(
            item,
            Event.DESTRUCTION_GIVEN_UP,
            f"ikr: key {item.old_key_id} was re-activated; ikr leaves it alone ({item.where})",
            details={"reason": "re-activated", "unrecorded": True},
        )
    )
