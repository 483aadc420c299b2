"""Delivering a new key and scheduling the old one: the delivery comes to one of three outcomes.

- delivered: the pending pair is overwritten by the delivery's mark (key id, promised deletion time,
  no secret), then the journal says so and schedules the old key in one write (`scheduled`, with the
  deletion time the mail promised, counted from this moment);
- refused (DeliveryError, a key store or SSM that said no): a first delivery is undone (the new key
  removed, the old one kept); a repeated one keeps the key, which may have gone out before;
- uncertain (sent, answer lost): the delivery may have happened, so the key is never removed as
  undelivered. The journal and the pending pair stay, the lease ends, and the next run delivers the
  same key again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from aws_lambda_powertools import Logger
from pydantic import SecretStr

from central.aws.errors import AwsError, reason_of
from central.aws.expiry_item import ExpiryItem, State, epoch
from central.aws.expiry_table import LeaseConflict
from central.aws.ssm_secrets import parameter_name
from central.domain import crypto
from central.domain.delivery import Delivery, recorded_delivery
from central.domain.errors import DeliveryError, DeliveryRefused, DeliveryUncertain, SecretStoreError
from central.domain.redaction import remember
from central.domain.results import Outcome, UserResult
from central.notify.mail_content import NewKeyNotice, StoredKeyNotice, new_key_mail, new_key_stored_mail
from central.notify.notice import Event, Notice
from central.rotation.context import RotationContext, failed
from central.rotation.lease import Lease
from central.rotation.postpone import postpone
from central.rotation.undo import Undo

logger = Logger(service="ikr")

_DELIVERY_FAILURES = (DeliveryError, SecretStoreError, AwsError)


class Deliver:
    def __init__(self, ctx: RotationContext, lease: Lease, undo: Undo) -> None:
        self.ctx = ctx
        self.lease = lease
        self.undo = undo

    def deliver_and_schedule(self, item: ExpiryItem, secret: SecretStr, resumed: bool) -> UserResult:
        assert item.new_key_id is not None
        delivery = recorded_delivery(item.delivery)
        days = timedelta(days=item.delete_after_days or 1)
        try:
            if delivery.to_store:
                version = self._write(delivery, item, secret)
                # Told before the delivery is recorded, so a crash repeats the notice rather than losing it.
                self._tell_owner(item, delivery, version, self.ctx.time() + days)
            else:
                self._mail(item, secret, self.ctx.time() + days)
        except DeliveryUncertain as exc:
            return self._uncertain(item, str(exc))
        except _DELIVERY_FAILURES as exc:
            reason = reason_of(exc)
            # A refusal only a person can mend waits for the daily run, not the retry run's minutes.
            retry_soon = not isinstance(exc, DeliveryRefused)
            if resumed or item.delivery_uncertain_at is not None:
                return self._keep_for_next_run(item, reason, retry_soon)
            return self.undo.give_up(item, reason, retry_soon)
        # Counted from this moment: a late or repeated delivery never promises a deletion in the past.
        deletes_at = self.ctx.time() + days
        # The pair (a secret) is replaced by the delivery's mark, then the journal is delivered and
        # scheduled in one write. A crash between the two leaves a key-created journal whose mark
        # the rerun schedules from (no second mail); the mark goes with the Fernet key, later.
        self.ctx.member.user_keys.mark_delivered(item.user_name, item.new_key_id, epoch(deletes_at))
        try:
            item = self.ctx.table.advance(
                item, state=State.SCHEDULED, delete_at=epoch(deletes_at), expires_at=epoch(deletes_at)
            )
        except LeaseConflict as exc:
            # Overtaken after delivering: the run that took over delivers the same pair and schedules.
            return self.lease.conflict(item, exc.found, f"key {item.new_key_id} delivered; ")
        fate = "made inactive" if self.ctx.deactivate_days else "deleted"
        went = f"written to {delivery.where}" if delivery.to_store else f"mailed to {item.email}"
        wait = " once the new key is in use" if item.verify_use else ""
        detail = (
            f"new key {item.new_key_id} {went}; old key {item.old_key_id} {fate} at "
            f"{deletes_at:%Y-%m-%d %H:%M} UTC{wait}"
        )
        # The line a person reads in the logs: who, where, which keys, and when the old one goes.
        logger.info(
            f"{'resumed and finished the rotation of' if resumed else 'rotated'} {item.user_name} in account "
            f"{item.account_id}: {detail}",
            extra={
                "account_id": item.account_id,
                "user": item.user_name,
                "new_key_id": item.new_key_id,
                "old_key_id": item.old_key_id,
                "resumed": resumed,
                "old_key_deleted_at": deletes_at.isoformat(),
            },
        )
        self.ctx.notifier.notify(
            Notice.about(
                item,
                Event.ROTATED,
                f"ikr {'finished rotating' if resumed else 'rotated'} {item.user_name} in {self.ctx.account_label}: "
                f"{detail}",
                at=deletes_at,
                # An on-demand rotation says why it was asked for (`ikr rotate --now-due --reason`).
                details={"resumed": resumed, "old_key_fate": fate, **({"reason": item.reason} if item.reason else {})},
            )
        )
        return UserResult(
            user=item.user_name,
            outcome=Outcome.RECOVERED if resumed else Outcome.ROTATED,
            new_key_id=item.new_key_id,
            old_key_id=item.old_key_id,
            old_key_deleted_at=deletes_at,
            detail=f"resumed an interrupted rotation: {detail}" if resumed else detail,
        )

    def _write(self, delivery: Delivery, item: ExpiryItem, secret: SecretStr) -> str:
        """Into the user's account (Secrets Manager, SSM) or a CI system (GitHub, GitLab): the version."""
        assert item.new_key_id is not None
        if delivery.to_ci:
            who = f"account {item.account_id} user {item.user_name}"
            return self.ctx.ci.write(delivery, item.new_key_id, secret, who)
        return self.ctx.member.key_pairs.write(delivery, item.new_key_id, secret, item.user_name)

    def _uncertain(self, item: ExpiryItem, reason: str) -> UserResult:
        """The delivery may have happened: the key is never removed as undelivered. The journal and the
        pending pair stay, the lease ends now, and the next run delivers the same key again."""
        now = epoch(self.ctx.time())
        try:
            self.ctx.table.advance(item, delivery_uncertain_at=now, lease_until=now)
        except LeaseConflict as exc:
            return self.lease.conflict(item, exc.found, f"delivery of key {item.new_key_id} uncertain; ")
        postpone(self.ctx, item.user_name, f"delivery uncertain: {reason}")
        lines = [
            f"The delivery of new key {item.new_key_id} of IAM user {item.user_name} in account {item.account_id} "
            f"is uncertain: {reason}.",
            "The recipient may hold the key, so it is kept. The next run delivers the same key again (never a new "
            f"one); the old key {item.old_key_id} is kept until that delivery is confirmed.",
        ]
        self.ctx.tell_admin("delivery uncertain", lines, item)
        self.ctx.notifier.notify(
            Notice.about(
                item,
                Event.DELIVERY_FAILED,
                f"ikr: delivery of {item.user_name}'s new key in {self.ctx.account_label} is uncertain ({reason}); "
                "the same key is sent again on the next run",
                details={"reason": reason, "uncertain": True},
            )
        )
        return failed(item, f"delivery uncertain ({reason}); " + lines[1])

    def _tell_owner(self, item: ExpiryItem, delivery: Delivery, version: str, deletes_at: datetime) -> None:
        """The owner learns where the key went. The key is delivered already: a failed notice is logged."""
        assert item.email is not None
        assert item.new_key_id is not None
        notice = StoredKeyNotice(
            account=self.ctx.scope.account,
            user=item.user_name,
            email=item.email,
            new_key_id=item.new_key_id,
            where=delivery.where,
            version=version,
            old_key_id=item.old_key_id,
            old_key_deleted_at=deletes_at,
            deactivate_days=self.ctx.deactivate_days,
            verify_use=item.verify_use,
            instructions=item.instructions or "",
        )
        try:
            self.ctx.mailer.send(new_key_stored_mail(notice))
        except DeliveryError as exc:
            logger.error(
                "owner not told where the new key is",
                extra={"account_id": item.account_id, "user": item.user_name, "reason": str(exc)},
            )

    def _mail(self, item: ExpiryItem, secret: SecretStr, deletes_at: datetime) -> None:
        assert item.email is not None
        assert item.new_key_id is not None
        encrypted_id: str | None = None
        if self.ctx.encrypt:
            fernet_key = self.ctx.member.user_keys.get_or_create(item.user_name)
            encrypted_id = crypto.encrypt(fernet_key, item.new_key_id)
            secret = SecretStr(crypto.encrypt(fernet_key, secret.get_secret_value()))
            remember(secret.get_secret_value())
        notice = NewKeyNotice(
            account=self.ctx.scope.account,
            account_alias=self.ctx.member.alias,  # one ListAccountAliases per account and run, at its first mail
            user=item.user_name,
            email=item.email,
            new_key_id=item.new_key_id,
            secret=secret,
            encrypted_key_id=encrypted_id,
            key_parameter=parameter_name(item.user_name),
            old_key_id=item.old_key_id,
            old_key_deleted_at=deletes_at,
            deactivate_days=self.ctx.deactivate_days,
            instructions=item.instructions or "",
        )
        self.ctx.mailer.send(new_key_mail(notice))

    def _keep_for_next_run(self, item: ExpiryItem, reason: str, retry_soon: bool = True) -> UserResult:
        # This key may have been delivered before (a crashed run, an uncertain delivery): removing it
        # could lock out whoever got it. The journal and the pending pair stay; the lease ends now.
        try:
            self.lease.end_now(item)
        except LeaseConflict as exc:
            return self.lease.conflict(item, exc.found)
        if retry_soon:
            postpone(self.ctx, item.user_name, f"re-delivery failed: {reason}")
        logger.error(
            "re-delivery of an interrupted rotation failed; key kept for the next run",
            extra={"account_id": item.account_id, "user": item.user_name, "reason": reason},
        )
        return failed(
            item,
            f"could not deliver the interrupted rotation's key {item.new_key_id} again ({reason}); it may have "
            "been delivered before, so it is kept and the next run delivers it again",
        )
