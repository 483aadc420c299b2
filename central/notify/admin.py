"""Notices for the administrator (ADMIN_EMAIL): a failure a person must look at, a run's summary.

Sent through the configured mailer. A notice is always logged as an error first, so with no
ADMIN_EMAIL, or with the mail system down, the log and the metrics still carry it; a notice that
cannot be mailed never fails the work that raised it.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from aws_lambda_powertools import Logger

from central.domain.errors import DeliveryError
from central.domain.redaction import scrub
from central.notify.mailers.base import Mail, Mailer

logger = Logger(service="ikr")
CHANNEL = "admin mail"


class AdminNotifier:
    def __init__(self, mailer: Mailer, address: str | None) -> None:
        self.mailer = mailer
        self.address = address

    def notify(self, subject: str, lines: Sequence[str], **fields: object) -> bool:
        """Log the notice and mail it to the administrator; True when a mail was handed over."""
        logger.error(f"admin notice: {subject}", extra={"notice": list(lines), **fields})
        if not self.address:
            return False
        text = "\n".join([*lines, "", "-- ikr, IAM key rotation"])
        html = "<html><body>" + "".join(f"<p>{escape(line)}</p>" for line in lines) + "</body></html>"
        try:
            self.mailer.send(Mail(to=self.address, subject=f"[ikr] {subject}", text=text, html=html))
        except DeliveryError as exc:
            logger.error("admin notice not mailed", extra={"channel": CHANNEL, "reason": str(exc), **fields})
            return False
        except Exception as exc:  # a notice never stops the work that raised it
            # Mailers raise DeliveryError alone (central.notify.mailers.base); this catches any other Mailer.
            reason = scrub(f"{type(exc).__name__}: {exc}")
            logger.error("admin notice not mailed", extra={"channel": CHANNEL, "reason": reason, **fields})
            return False
        return True
