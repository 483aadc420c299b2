"""Undoing a rotation: its undelivered key removed, the old key kept; and the keys ikr never recorded,
which are never deleted here.

A key that appeared while a crashed run held the lease was never recorded by ikr: it may be a key a
person made. Unused, it is made Inactive and scheduled for deletion DELETE_AFTER_DAYS after the
owner and administrator are told (an `unrecorded` expiry item; re-activating it keeps it); used, it
is left alone and reported.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from aws_lambda_powertools import Logger

from central.aws.errors import AwsNotFound
from central.aws.expiry_item import ExpiryItem, State, epoch
from central.aws.expiry_table import LeaseConflict
from central.clock import system_clock
from central.domain.errors import DeliveryError, IkrError
from central.domain.model import AccessKey, KeyStatus
from central.domain.results import UserResult
from central.notify.notice import Event, Notice
from central.rotation.context import RotationContext, failed, plain_mail
from central.rotation.lease import Lease
from central.rotation.postpone import postpone

logger = Logger(service="ikr")


class Undo:
    def __init__(self, ctx: RotationContext, lease: Lease) -> None:
        self.ctx = ctx
        self.lease = lease

    def lost_before_recording(self, item: ExpiryItem, new_key_id: str, found: ExpiryItem | None) -> UserResult:
        """Overtaken between CreateAccessKey and recording its id: the key is ours (we hold its answer)
        and was never delivered, so it is removed; the user is left to the run that took over."""
        self._delete_key(item, new_key_id)
        logger.warning(
            "rotation lease lost before the new key was recorded; that undelivered key removed",
            extra={"account_id": item.account_id, "user": item.user_name, "removed_key_id": new_key_id},
        )
        return self.lease.conflict(item, found, f"this run's undelivered key {new_key_id} removed; ")

    def cannot_resend(self, item: ExpiryItem) -> UserResult:
        """A key whose delivery was uncertain, and its pending pair is gone: it may be in use, so both
        keys stay and a person decides."""
        self.ctx.table.drop(item)
        lines = [
            f"The delivery of new key {item.new_key_id} of IAM user {item.user_name} in account {item.account_id} "
            "was uncertain, and the copy ikr keeps to send it again is gone.",
            f"Both keys are kept: the new key {item.new_key_id} may be in use, the old key {item.old_key_id} too. "
            "Delete the one nobody uses; ikr rotates the user again once it has one key.",
        ]
        self.ctx.tell_admin("uncertain delivery cannot be repeated", lines, item)
        return failed(item, " ".join(lines[1:]))

    def roll_back(self, item: ExpiryItem, recorded: str | None, unrecorded: list[AccessKey]) -> UserResult:
        """Undo an interrupted rotation: its recorded, undelivered key goes; a key ikr never recorded
        is only ever made inactive. The journal goes last, so a crash in between is undone again."""
        fates = [self._handle_unrecorded(item, key) for key in unrecorded]
        if recorded is not None:
            self._delete_key(item, recorded)
        self.ctx.member.user_keys.delete_pending(item.user_name)
        self.ctx.table.drop(item)
        what = f"removed undelivered key {recorded}" if recorded else "removed no key"
        logger.warning(
            "undid an interrupted rotation",
            extra={"account_id": item.account_id, "user": item.user_name, "removed_key_id": recorded},
        )
        detail = f"undid an interrupted rotation: {what}; old key {item.old_key_id} kept"
        if fates:
            return failed(item, "; ".join([detail, *fates]))
        return self.ctx.recovered(item, detail)

    def _handle_unrecorded(self, item: ExpiryItem, key: AccessKey) -> str:
        """A key ikr never recorded appeared while the crashed run held the lease: never deleted here."""
        iam = self.ctx.member.iam
        used = iam.last_used(key.key_id, item.user_name)
        where = f"IAM user {item.user_name} in account {item.account_id}"
        if used is not None:
            lines = [
                f"Key {key.key_id} of {where} appeared while an ikr rotation was interrupted, and ikr did not make "
                f"it (or cannot prove it did). It was used at {used.at:%Y-%m-%d %H:%M} UTC, so ikr leaves it alone.",
                f"The user now has two keys ({item.old_key_id} and {key.key_id}); ikr skips a user with two keys. "
                f"Delete the one nobody uses: aws iam delete-access-key --user-name {item.user_name} "
                f"--access-key-id <KEY>; ikr rotates the user as usual once it has one key.",
            ]
            self.ctx.tell_admin("unrecorded key left alone", lines, item, key.key_id)
            return " ".join(lines)
        now = self.ctx.time()
        deletes_at = now + timedelta(days=item.delete_after_days or 1)
        marker = ExpiryItem(
            account_id=item.account_id,
            user_name=item.user_name,
            old_key_id=key.key_id,
            state=State.SCHEDULED,
            started_at=epoch(system_clock()),
            email=item.email,
            run_id=self.lease.owner,
            expires_at=epoch(deletes_at),
            delete_at=epoch(deletes_at),
            unrecorded=True,
        )
        self.ctx.table.put(marker)  # first: should the process die now, the item still leads to the key
        if key.status is KeyStatus.ACTIVE:
            iam.deactivate_access_key(item.user_name, key.key_id)
        reactivate = (
            f"aws iam update-access-key --user-name {item.user_name} --access-key-id {key.key_id} --status Active"
        )
        delete = f"aws iam delete-access-key --user-name {item.user_name} --access-key-id {key.key_id}"
        lines = [
            f"Key {key.key_id} of {where} appeared while an ikr rotation was interrupted, and ikr never recorded "
            "making it: it may be a key someone made by hand. It was never used, so ikr made it Inactive (not "
            "deleted).",
            f"Unless it is re-activated ({reactivate}), ikr deletes it at {deletes_at:%Y-%m-%d %H:%M} UTC and then "
            f"rotates the user as usual. To delete it now: {delete}.",
        ]
        self.ctx.tell_admin("unrecorded key made inactive", lines, item, key.key_id)
        if item.email:
            try:
                self.ctx.mailer.send(plain_mail(item.email, f"[ikr] key {key.key_id} made inactive", lines))
            except DeliveryError as exc:
                logger.error(
                    "owner not told of the unrecorded key",
                    extra={"account_id": item.account_id, "user": item.user_name, "reason": str(exc)},
                )
        return " ".join(lines)

    def give_up(self, item: ExpiryItem, reason: str, retry_soon: bool = True) -> UserResult:
        """A first delivery failed: the new key is removed again and the old one kept. The user is still
        due: the retry run tries again RETRY_AFTER_MINS from now, or, for a refusal that waits for a
        person (`retry_soon` False), the next daily run."""
        try:
            self._undo(item)
        except LeaseConflict as exc:
            return self.lease.conflict(item, exc.found, f"delivery failed ({reason}); ")
        except IkrError:
            # The journal stays; its lease ends now, so the next run finishes the undo at once.
            with contextlib.suppress(IkrError):
                self.lease.end_now(item)
                postpone(self.ctx, item.user_name, f"delivery failed ({reason}), undo unfinished")
            raise
        if retry_soon:
            postpone(self.ctx, item.user_name, f"delivery failed: {reason}")
        logger.error(
            "delivery failed; new key removed, old key kept",
            extra={"account_id": item.account_id, "user": item.user_name, "reason": reason},
        )
        detail = f"delivery failed ({reason}); new key {item.new_key_id} removed, old key {item.old_key_id} kept"
        self.ctx.notifier.notify(
            Notice.about(
                item,
                Event.DELIVERY_FAILED,
                f"ikr could not rotate {item.user_name} in {self.ctx.account_label}: {detail}",
                details={"reason": reason},
            )
        )
        return failed(item, detail)

    def _undo(self, item: ExpiryItem) -> None:
        """Remove an undelivered key this run recorded, its pending pair, then the journal (in that
        order: a crash between them leaves a journal the next run finishes). Still the owner first:
        a run that took over may have delivered this key."""
        self.ctx.table.advance(item, lease_until=self.lease.until())
        if item.new_key_id is not None:
            self._delete_key(item, item.new_key_id)
        self.ctx.member.user_keys.delete_pending(item.user_name)
        self.ctx.table.drop(item)

    def _delete_key(self, item: ExpiryItem, key_id: str) -> None:
        with contextlib.suppress(AwsNotFound):  # gone already: what was wanted
            self.ctx.member.iam.delete_access_key(item.user_name, key_id)
