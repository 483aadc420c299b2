"""The one notice of a run whose mail system ran out of its daily quota (SES "Daily message quota
exceeded"): to the administrator (logged as an error, and mailed, which may well fail for the same
quota) and to the webhook, which is the channel that still works when mail does not."""

from __future__ import annotations

from collections.abc import Callable

from aws_lambda_powertools import Logger

from central.domain.errors import IkrError
from central.notify.admin import AdminNotifier
from central.notify.notice import Event, Notice, Notifier

logger = Logger(service="ikr")
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


def tell_mail_postponed(
    admin: AdminNotifier, notifier: Notifier, reason: str, claim: Callable[[], bool] | None = None
) -> bool:
    """Tell the administrator and the webhook, once per run: QuotaGuard calls this once per invocation,
    and `claim` (the table's one notice, `central.aws.quota_notices`) is won by one invocation of the
    fan-out's many. A claim that fails tells anyway: a second notice is better than none. True: told."""
    if claim is not None:
        try:
            if not claim():
                logger.info("mail quota notice already sent by another invocation", extra={"reason": reason})
                return False
        except IkrError as exc:
            logger.warning("mail quota notice: the claim failed, telling anyway", extra={"reason": str(exc)})
    lines = quota_lines(reason)
    admin.notify(SUBJECT, lines)
    notifier.notify(Notice(event=Event.MAIL_POSTPONED, text=f"ikr: {SUBJECT} ({reason})", details={"reason": reason}))
    return True
