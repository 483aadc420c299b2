"""The mail system's daily quota, used up: the rest of the run's mail is postponed, and the
administrator is told once.

Every mailer a run uses is wrapped in `QuotaGuard`. The first `MailQuotaExceeded` (SES's "Daily
message quota exceeded") closes the guard: every later mail of the run (or of the Lambda
invocation) is refused at once with `MailQuotaExceeded`, without a call to the mail system, and
`postponed()` says why, so the rotation starts no key it could not mail (such users are rotated by
a later run, once the quota has refilled). `on_exhausted` is called once, with the reason: the
wiring turns it into the administrator's notice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from aws_lambda_powertools import Logger

from central.domain.errors import MailQuotaExceeded
from central.domain.redaction import scrub
from central.notify.mailers.base import Mail, Mailer

logger = Logger(service="ikr")
POSTPONED = "the mail system's daily sending quota is used up"


class QuotaGuard(Mailer):
    def __init__(self, inner: Mailer, on_exhausted: Callable[[str], object] | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.on_exhausted = on_exhausted  # set by the wiring once the run's notifiers exist
        self._lock = threading.Lock()
        self._exhausted: str | None = None

    def postponed(self) -> str | None:
        """Why this run's mail is postponed, or None while mail goes out. Said the same way in every
        user's row (the refusal itself, which names its recipient, goes to the administrator)."""
        return None if self._exhausted is None else POSTPONED

    def send(self, mail: Mail) -> None:
        if self._exhausted is not None:
            raise MailQuotaExceeded(f"mail to {mail.to} postponed: {POSTPONED}")
        try:
            self.inner.send(mail)
        except MailQuotaExceeded as exc:
            with self._lock:
                first = self._exhausted is None
                if first:
                    self._exhausted = str(exc)
            if first and self.on_exhausted is not None:
                try:
                    self.on_exhausted(str(exc))
                except Exception as notice_failure:  # the notice never changes the mail's outcome
                    logger.error("mail quota notice failed", extra={"reason": scrub(repr(notice_failure))})
            raise
