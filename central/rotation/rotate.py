"""One user's rotation, owned through a lease and journalled in the expiry table before each step.

    begin(started, lease, known keys) → CreateAccessKey → advance(key-created, new id) → SSM pending pair
      → [Fernet key, encrypt] → deliver → pending pair replaced by the delivery's mark (no secret)
      → advance(scheduled, delete_at = expires_at)
    delivery refused → DeleteAccessKey(new) → drop pending pair → drop journal (old key kept)
    delivery uncertain (sent, answer lost) → journal kept, lease ended: the next run sends the same key

This module is the sequence; the lease is `central.rotation.lease`, the delivery and its three
outcomes `central.rotation.deliver`, undoing and keys ikr never recorded `central.rotation.undo`.
A run that takes over an expired lease resumes or undoes what it finds:
- `started`: the mail cannot have gone. Any key not among the keys recorded when the lease was taken
  was never recorded by ikr (see `central.rotation.undo`);
- `key-created`: the mail may have gone. The same pair, kept in SSM, is delivered again (the user may
  get it twice, never two different keys); if the pair was already replaced by its delivery's mark,
  the old key is scheduled for the time the mark says the mail promised; without pair or mark the
  recorded key is removed as undelivered, unless a delivery of it was uncertain: then it is kept;
- `delivered` (written by earlier versions only): the pending pair is dropped and the old key
  scheduled for the time the mail promised.
The old key's deletion time is counted from the moment of delivery, on the clock at that moment.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger

from central.aws.errors import AwsError, AwsNotFound
from central.aws.expiry_item import ExpiryItem, State, epoch, from_epoch
from central.aws.expiry_table import LeaseConflict
from central.aws.iam import NewAccessKey
from central.aws.ssm_secrets import DeliveredMark, PendingKey
from central.clock import system_clock
from central.domain.errors import SecretStoreError
from central.domain.model import AccessKey
from central.domain.policy import Decision
from central.domain.results import UserResult
from central.notify.notice import Event, Notice
from central.rotation.context import DEFAULT_LEASE_MINUTES, RotationContext, failed
from central.rotation.deliver import Deliver
from central.rotation.lease import JOURNAL_STATES, Lease, in_progress_detail, lease_expired, lease_owner
from central.rotation.postpone import postpone
from central.rotation.undo import Undo

__all__ = [
    "DEFAULT_LEASE_MINUTES",
    "JOURNAL_STATES",
    "KeyRotation",
    "RotationContext",
    "in_progress_detail",
    "lease_expired",
    "lease_owner",
]

logger = Logger(service="ikr")


class KeyRotation:
    """Rotates, resumes or undoes one user's key inside one account."""

    def __init__(self, ctx: RotationContext) -> None:
        self.ctx = ctx
        self.iam = ctx.member.iam
        self.lease = Lease(ctx)
        self.undo = Undo(ctx, self.lease)
        self.deliver = Deliver(ctx, self.lease, self.undo)

    # -- a fresh rotation -----------------------------------------------------------------------
    def rotate(self, decision: Decision) -> UserResult:
        assert decision.key is not None
        assert decision.email is not None
        item = ExpiryItem(
            account_id=self.ctx.scope.account.id,
            user_name=decision.user,
            old_key_id=decision.key.key_id,
            state=State.STARTED,
            # Wall-clock time, comparable with IAM's key dates (the lease runs on ikr's clock).
            started_at=epoch(system_clock()),
            email=decision.email,
            run_id=self.lease.owner,
            lease_until=self.lease.until(),
            known_keys=(decision.key.key_id,),
            delete_after_days=decision.delete_after.days,
            instructions=decision.instructions,
            delivery=str(decision.delivery) if decision.delivery.to_store else None,
            verify_use=decision.verify_use,
            reason=decision.on_demand,
        )
        try:
            self.ctx.table.begin(item)
        except LeaseConflict as exc:
            return self.lease.conflict(item, exc.found)
        self._tell_started(item)
        made = self._create(item)
        if isinstance(made, UserResult):
            return made
        try:
            # The very next step: from here on the key is provably ikr's.
            item = self.ctx.table.advance(
                item, state=State.KEY_CREATED, new_key_id=made.key_id, lease_until=self.lease.until()
            )
        except LeaseConflict as exc:
            return self.undo.lost_before_recording(item, made.key_id, exc.found)
        try:
            self.ctx.member.user_keys.put_pending(item.user_name, made.key_id, made.secret)
        except SecretStoreError as exc:
            return self.undo.give_up(item, str(exc))
        return self.deliver.deliver_and_schedule(item, made.secret, resumed=False)

    def _create(self, item: ExpiryItem) -> NewAccessKey | UserResult:
        try:
            return self.iam.create_access_key(item.user_name)
        except AwsError as exc:
            if exc.uncertain:
                return self._maybe_created(item, exc.reason)
            self.ctx.table.drop(item)  # AWS said no: no key was made
            detail = f"could not create a new key: {exc.reason}; old key {item.old_key_id} kept"
            self.ctx.notifier.notify(
                Notice.about(
                    item,
                    Event.DELIVERY_FAILED,
                    f"ikr could not rotate {item.user_name} in {self.ctx.account_label}: {detail}",
                    details={"reason": exc.reason, "step": "create-key"},
                )
            )
            return failed(item, detail)

    def _tell_started(self, item: ExpiryItem) -> None:
        """The intent is journalled: consumers hear a rotation began (its end or failure follows)."""
        self.ctx.notifier.notify(
            Notice.about(
                item,
                Event.ROTATION_STARTED,
                f"ikr started rotating {item.user_name} in {self.ctx.account_label} (old key {item.old_key_id})",
                at=from_epoch(item.started_at),
            )
        )

    def _maybe_created(self, item: ExpiryItem, reason: str) -> UserResult:
        """CreateAccessKey's answer was lost or a server error: a key may exist that ikr cannot name.
        The journal stays and the lease ends; the next run looks for a key nobody recorded."""
        self.lease.end_now(item)
        postpone(self.ctx, item.user_name, f"CreateAccessKey uncertain: {reason}")
        logger.error(
            "CreateAccessKey may have made a key whose id never arrived",
            extra={"account_id": item.account_id, "user": item.user_name, "reason": reason},
        )
        return failed(
            item,
            f"could not tell whether a new key was made ({reason}); old key {item.old_key_id} kept; the next run "
            "looks for a key ikr did not record and makes it inactive if it was never used",
        )

    # -- a rotation an earlier run left half-way ------------------------------------------------
    def resume(self, item: ExpiryItem) -> UserResult:
        """Finish or undo a journal whose lease expired (the caller checks); in-progress otherwise."""
        if self.ctx.dry_run:
            return self.ctx.recovered(item, self._would(item))
        try:
            item = self.lease.take_over(item)
        except LeaseConflict as exc:
            return self.lease.conflict(item, exc.found)
        try:
            keys = self.iam.access_keys(item.user_name)
        except AwsNotFound:
            self.ctx.member.user_keys.delete_pending(item.user_name)
            self.ctx.table.drop(item)
            return self.ctx.recovered(item, "the user of an interrupted rotation no longer exists; journal removed")
        if item.state is State.DELIVERED:
            return self._resume_delivered(item)
        return self._resume_undelivered(item, keys)

    def _resume_undelivered(self, item: ExpiryItem, keys: tuple[AccessKey, ...]) -> UserResult:
        live = {key.key_id: key for key in keys}
        recorded = item.new_key_id if item.state is State.KEY_CREATED else None
        if recorded is not None and recorded in live:
            pending = self.ctx.member.user_keys.get_pending(item.user_name)
            if isinstance(pending, DeliveredMark) and pending.key_id == recorded:
                return self._resume_marked(item, pending)
            if isinstance(pending, PendingKey) and pending.key_id == recorded:
                return self.deliver.deliver_and_schedule(item, pending.secret, resumed=True)
            if item.delivery_uncertain_at is not None:
                return self.undo.cannot_resend(item)
        unrecorded = [key for key in keys if key.key_id not in {item.old_key_id, recorded, *item.known_keys}]
        return self.undo.roll_back(item, recorded if recorded in live else None, unrecorded)

    def _would(self, item: ExpiryItem) -> str:
        """What resuming would do, read-only (a dry run)."""
        try:
            keys = self.iam.access_keys(item.user_name)
        except AwsNotFound:
            return "would remove the journal of an interrupted rotation whose user no longer exists"
        if item.state is State.DELIVERED:
            return f"would finish an interrupted rotation: key {item.new_key_id} was delivered"
        live = {key.key_id for key in keys}
        recorded = item.new_key_id if item.state is State.KEY_CREATED else None
        if recorded is not None and recorded in live:
            pending = self.ctx.member.user_keys.get_pending(item.user_name)
            if isinstance(pending, DeliveredMark) and pending.key_id == recorded:
                return f"would finish an interrupted rotation: key {recorded} was delivered"
            if isinstance(pending, PendingKey) and pending.key_id == recorded:
                return f"would deliver the interrupted rotation's key {recorded} again"
        parts = [
            f"would undo an interrupted rotation (undelivered key {recorded} to remove)"
            if recorded in live
            else "would undo an interrupted rotation (no key of it to remove)"
        ]
        parts.extend(
            f"key {key_id} was never recorded by ikr: it would be made inactive if never used, else left alone"
            for key_id in sorted(live - {item.old_key_id, recorded, *item.known_keys})
        )
        return "; ".join(parts)

    def _resume_marked(self, item: ExpiryItem, mark: DeliveredMark) -> UserResult:
        """Delivered, its pair already replaced by the mark; the run died before scheduling."""
        deletes_at = from_epoch(mark.delete_at)
        self.ctx.table.advance(item, state=State.SCHEDULED, delete_at=mark.delete_at, expires_at=mark.delete_at)
        return self.ctx.recovered(
            item,
            f"finished an interrupted rotation: key {item.new_key_id} was delivered; old key {item.old_key_id} "
            f"deleted at {deletes_at:%Y-%m-%d %H:%M} UTC",
            deletes_at=deletes_at,
        )

    def _resume_delivered(self, item: ExpiryItem) -> UserResult:
        """A `delivered` journal of an earlier version (delivered and scheduled were two writes then)."""
        deletes_at = from_epoch(item.delete_at) if item.delete_at is not None else self.ctx.time()
        self.ctx.member.user_keys.delete_pending(item.user_name)
        self.ctx.table.advance(item, state=State.SCHEDULED, expires_at=epoch(deletes_at))
        return self.ctx.recovered(
            item,
            f"finished an interrupted rotation: key {item.new_key_id} was delivered; old key {item.old_key_id} "
            f"deleted at {deletes_at:%Y-%m-%d %H:%M} UTC",
            deletes_at=deletes_at,
        )
