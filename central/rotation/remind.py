"""Reminders before a rotation (REMIND_BEFORE_DAYS, `IKR:REMIND_BEFORE_DAYS`): a user whose key is
within that many days of being due is told once, by mail to IKR:EMAIL and as a `reminder-sent`
notice, when it will be rotated and what will happen then.

Once per key, across runs and overlapping runs: the reminder is claimed with a conditional write
before the mail and marked sent after it (`central.aws.reminders`). A mail that did not go (refused,
uncertain, the daily quota used up) gives the claim back, so the next run reminds the user again:
a person may be reminded twice (a crash between the mail and its record), never not at all. A
reminder never fails the run nor the user's row; a dry run sends nothing.

Cost: the account's records come with the run's one Query of its items, and a user decided from the
credential report stays decided there unless its key is in the window and not yet reminded: a user
not near its due date costs no call; one near it, ListAccessKeys (for the key id), PutItem, the mail,
UpdateItem, once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aws_lambda_powertools import Logger

from central.aws.errors import reason_of
from central.aws.expiry_item import epoch
from central.aws.reminders import Reminder
from central.domain.errors import DeliveryError, IkrError
from central.domain.policy import Decision
from central.domain.reminder import in_window, remind_days
from central.notify.notice import Event, Notice
from central.notify.reminder_mail import ReminderNotice, headline, reminder_mail
from central.rotation.context import RotationContext

logger = Logger(service="ikr")

# A reminder record outlives the key's due date by this long, then TTL removes it: long enough for
# the report to show it after the rotation, short enough that the table keeps no history.
KEEP_AFTER_DUE = timedelta(days=30)


@dataclass
class Reminding:
    """The account's reminders as the run read them, and the sending of new ones."""

    ctx: RotationContext
    records: tuple[Reminder, ...] = ()
    _by_key: dict[tuple[str, str], Reminder] = field(init=False, default_factory=dict)
    _by_created: dict[tuple[str, int], Reminder] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        for record in self.records:
            self._by_key[(record.user_name, record.key_id)] = record
            self._by_created[(record.user_name, record.key_created)] = record

    def due_soon(self, decision: Decision) -> bool:
        """The decision's key is in its reminder window now."""
        return in_window(decision, self.ctx.now, self.ctx.remind_before_days)

    def wants_live_keys(self, decision: Decision) -> bool:
        """A decision made from the credential report (no key ids) whose key may need its reminder:
        only then are the user's keys listed. A key already reminded is known by its creation time."""
        if not self.due_soon(decision) or decision.key is None:
            return False
        return not self._done(self._by_created.get((decision.user, epoch(decision.key.created))))

    def remind(self, decision: Decision) -> str:
        """Remind the user if its key is due soon and was not reminded; what happened, as words to add
        to the user's row ("" when nothing was to be done)."""
        key, email, due_at = decision.key, decision.email, decision.due_at
        if not self.due_soon(decision) or key is None or email is None or due_at is None:
            return ""
        if self._done(self._by_key.get((decision.user, key.key_id))):
            return ""
        if self.ctx.dry_run:
            return f"; would remind {email} that it is rotated on {due_at:%Y-%m-%d}"
        postponed = self.ctx.mailer.postponed()
        if postponed is not None:
            return f"; reminder postponed: {postponed}"
        record = Reminder(
            account_id=self.ctx.scope.account.id,
            user_name=decision.user,
            key_id=key.key_id,
            key_created=epoch(key.created),
            due_at=epoch(due_at),
            claimed_by=self.ctx.owner or self.ctx.run_id,
            claimed_at=epoch(self.ctx.time()),
            expires_at=epoch(due_at + KEEP_AFTER_DUE),
        )
        try:
            return self._send(record, self._notice(decision, key.key_id, email, due_at))
        except IkrError as exc:
            # The table refused the claim or its record: the next run tries again; the user is not failed.
            reason = reason_of(exc)
            logger.error("reminder not sent", account_id=record.account_id, user=decision.user, reason=reason)
            return f"; reminder not sent ({reason}); the next run tries again"

    def _done(self, found: Reminder | None) -> bool:
        """Sent, or claimed by a run still within its lease time (a stale claim is a crashed run's)."""
        if found is None:
            return False
        return found.sent_at is not None or found.claimed_at >= self._stale_before()

    def _stale_before(self) -> int:
        return epoch(self.ctx.time() - timedelta(minutes=self.ctx.lease_minutes))

    def _send(self, record: Reminder, notice: ReminderNotice) -> str:
        reminders = self.ctx.table.reminders
        if not reminders.claim(record, self._stale_before()):
            return ""  # another run (or an earlier delivery of this account's message) has it
        try:
            self.ctx.mailer.send(reminder_mail(notice))
        except DeliveryError as exc:
            # Refused or maybe sent: given back either way, so the user hears at least once.
            reminders.release(record)
            where = {"account_id": record.account_id, "user": record.user_name}
            logger.warning("reminder mail not sent", extra={**where, "reason": str(exc)})
            return f"; reminder not sent ({exc}); the next run tries again"
        reminders.mark_sent(record, epoch(self.ctx.time()), f"mail to {notice.email}")
        self.ctx.notifier.notify(
            Notice(
                event=Event.REMINDER_SENT,
                text=headline(notice),
                account_id=record.account_id,
                user=record.user_name,
                old_key_id=record.key_id,
                at=notice.due_at,
                details={"delivery": notice.delivery, "remind_before_days": notice.remind_before_days},
            )
        )
        return f"; reminded {notice.email}: rotated on {notice.due_at:%Y-%m-%d}"

    def _notice(self, decision: Decision, key_id: str, email: str, due_at: datetime) -> ReminderNotice:
        delivery = decision.delivery.where if decision.delivery.to_store else f"your mail address {email}"
        return ReminderNotice(
            account=self.ctx.scope.account,
            user=decision.user,
            email=email,
            key_id=key_id,
            due_at=due_at,
            delivery=delivery,
            encrypted=self.ctx.encrypt and not decision.delivery.to_store,
            delete_after_days=decision.delete_after.days,
            deactivate_days=self.ctx.deactivate_days,
            verify_use=decision.verify_use,
            instructions=decision.instructions,
            remind_before_days=remind_days(decision, self.ctx.remind_before_days),
        )
