"""The one notice of a run whose mail system ran out of its daily quota (SES "Daily message quota
exceeded"): to the administrator (logged as an error, and mailed, which may well fail for the same
quota) and to the webhook, which is the channel that still works when mail does not."""

from __future__ import annotations

from central.notify.admin import AdminNotifier
from central.notify.notice import Event, Notice, Notifier

SUBJECT = "mail quota exceeded: the rest of the run's mail is postponed"


def quota_lines(reason: str) -> list[str]:
    return [
        f"The mail system refused a mail for its daily quota: {reason}.",
        "No further mail is sent in this run: users whose new key would be mailed keep their old key and are "
        "rotated by a later run, once the quota has refilled (SES counts a rolling 24 hours). The user whose "
        "mail was refused keeps the old key too; the new key made for it was removed again.",
        "To send more: raise the SES sending quota (Service Quotas, or the SES console's account dashboard), "
        "or spread the rotations over more days (IKR:ROTATE_AFTER_DAYS per OU or account).",
    ]


def tell_mail_postponed(admin: AdminNotifier, notifier: Notifier, reason: str) -> None:
    """Tell the administrator and the webhook, once per run (QuotaGuard calls this once)."""
    lines = quota_lines(reason)
    admin.notify(SUBJECT, lines)
    notifier.notify(Notice(event=Event.MAIL_POSTPONED, text=f"ikr: {SUBJECT} ({reason})", details={"reason": reason}))
