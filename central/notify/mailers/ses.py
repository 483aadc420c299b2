"""Amazon SES from the central account: the mail handed to `central.aws.ses.SesSender`, which raises
the delivery outcomes (refused or uncertain) as docs/ARCHITECTURE.md describes them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from central.notify.mailers.base import Mail, Mailer

if TYPE_CHECKING:
    from central.aws.ses import SesSender


class SesMailer(Mailer):
    name = "ses"

    def __init__(self, ses: SesSender, sender: str) -> None:
        self._ses = ses
        self._sender = sender

    def send(self, mail: Mail) -> None:
        self._ses.send(self._sender, mail.to, mail.subject, mail.text, mail.html)
