"""One user's rotation, owned through a lease and journalled in the expiry table before each step.

    begin(started, lease, known keys) → CreateAccessKey → advance(key-created, new id) → SSM pending pair
      → [Fernet key, encrypt] → deliver → advance(delivered, delete_at) → drop pending pair
      → advance(scheduled, expires_at = delete_at)
    delivery refused → DeleteAccessKey(new) → drop pending pair → drop journal (old key kept)
    delivery uncertain (sent, answer lost) → journal kept, lease ended: the next run sends the same key

The lease: `begin` writes the journal item only if none exists (owner = this pass's id, lease until
now + IKR_LEASE_MINUTES on ikr's clock); every later write is conditional on still owning it. A run
that meets a live lease leaves the user alone ("in progress"); one that meets an expired lease takes
it over with a conditional write (only one can) and resumes or undoes what it finds:
- `started`: the mail cannot have gone. Any key not among the keys recorded when the lease was taken
  was never recorded by ikr: it may be a key a person made, so it is never deleted; unused, it is made
  Inactive and scheduled for deletion DELETE_AFTER_DAYS after the owner and administrator are told
  (an `unrecorded` expiry item; re-activating it keeps it); used, it is left alone and reported;
- `key-created`: the mail may have gone. The same pair, kept in SSM, is delivered again (the user may
  get it twice, never two different keys); without the pair the recorded key is removed as
  undelivered, unless a delivery of it was uncertain: then it is kept;
- `delivered`: the pending pair is dropped and the old key scheduled for the time the mail promised.
The old key's deletion time is counted from the moment of delivery, on the clock at that moment.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html import escape
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import SecretStr

from central.aws import clients as aws
from central.aws.expiry_table import ExpiryItem, ExpiryTable, LeaseConflict, State, epoch, from_epoch
from central.aws.key_stores import write_pair
from central.aws.ssm_secrets import UserKeyStore, parameter_name
from central.clock import Clock, system_clock
from central.domain import crypto
from central.domain.delivery import DEFAULT_PREFIX, Delivery, recorded_delivery
from central.domain.errors import DeliveryError, DeliveryUncertain, IkrError, SecretStoreError, aws_reason
from central.domain.inventory import access_keys
from central.domain.model import AccessKey, KeyStatus
from central.domain.policy import Decision
from central.domain.redaction import remember
from central.domain.results import Outcome, UserResult
from central.notify.mail_content import NewKeyNotice, StoredKeyNotice, new_key_mail, new_key_stored_mail
from central.notify.mailers.base import Mail
from central.notify.webhook import Event, Notice, Notifier, NullNotifier

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_iam import IAMClient

    from central.domain.scope import AccountScope
    from central.notify.admin import AdminNotifier
    from central.notify.mailers import Mailer

logger = Logger(service="ikr")

JOURNAL_STATES = (State.STARTED, State.KEY_CREATED, State.DELIVERED)
_DELIVERY_FAILURES = (DeliveryError, SecretStoreError, ClientError, BotoCoreError)
DEFAULT_LEASE_MINUTES = 20


def lease_owner(run_id: str) -> str:
    """The id that owns leases for one pass over an account: the run's id plus a part of its own, so
    two deliveries of the same account message (same run id) never mistake each other's lease."""
    return f"{run_id or 'run'}.{uuid.uuid4().hex[:6]}"


def lease_expired(item: ExpiryItem, now: datetime) -> bool:
    return item.lease_until is None or item.lease_until <= epoch(now)


def in_progress_detail(item: ExpiryItem) -> str:
    since = from_epoch(item.started_at)
    until = f", lease until {from_epoch(item.lease_until):%Y-%m-%d %H:%M} UTC" if item.lease_until else ""
    return (
        f"rotation in progress by run {item.run_id or '?'} since {since:%Y-%m-%d %H:%M} UTC{until}; left to it "
        f"(a dead run's lease ends then, or with `ikr end-lease --account {item.account_id} --user {item.user_name}`)"
    )


@dataclass(frozen=True)
class RotationContext:
    session: boto3.Session
    scope: AccountScope
    now: datetime  # the instant decisions are made for
    table: ExpiryTable
    mailer: Mailer
    encrypt: bool
    dry_run: bool = False
    run_id: str = ""
    deactivate_days: int = 0  # DEACTIVATE_BEFORE_DELETE_DAYS: the mail says the old key goes inactive first
    # Items this run's sweep just removed: their destructor may not have run yet.
    being_deleted: tuple[ExpiryItem, ...] = ()
    notifier: Notifier = field(default_factory=NullNotifier)
    delivery_prefix: str = DEFAULT_PREFIX  # DELIVERY_PREFIX: IKR:DELIVERY targets lie under it
    clock: Clock | None = None  # ikr's one clock, read at each step (leases, delivery time); None: `now`
    lease_minutes: int = DEFAULT_LEASE_MINUTES  # IKR_LEASE_MINUTES
    owner: str = ""  # lease owner id of this pass (lease_owner(run_id)); "" : made from run_id
    admin: AdminNotifier | None = None

    def time(self) -> datetime:
        return self.clock() if self.clock is not None else self.now


class KeyRotation:
    """Rotates, resumes or undoes one user's key inside one account."""

    def __init__(self, ctx: RotationContext, iam: IAMClient) -> None:
        self.ctx = ctx
        self.iam = iam
        self.store = UserKeyStore(aws.ssm(ctx.session), ctx.scope.account.id)
        self.owner = ctx.owner or lease_owner(ctx.run_id)

    def _lease_until(self) -> int:
        return epoch(self.ctx.time() + timedelta(minutes=self.ctx.lease_minutes))

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
            run_id=self.owner,
            lease_until=self._lease_until(),
            known_keys=(decision.key.key_id,),
            delete_after_days=decision.delete_after.days,
            instructions=decision.instructions,
            delivery=str(decision.delivery) if decision.delivery.to_store else None,
            verify_use=decision.verify_use,
        )
        try:
            self.ctx.table.begin(item)
        except LeaseConflict as exc:
            return self._conflict(item, exc.found)
        made = self._create(item)
        if isinstance(made, UserResult):
            return made
        new_key_id, secret = made
        try:
            # The very next step: from here on the key is provably ikr's.
            item = self.ctx.table.advance(
                item, state=State.KEY_CREATED, new_key_id=new_key_id, lease_until=self._lease_until()
            )
        except LeaseConflict as exc:
            return self._lost_before_recording(item, new_key_id, exc.found)
        try:
            self.store.put_pending(item.user_name, new_key_id, secret)
        except SecretStoreError as exc:
            return self._give_up(item, str(exc))
        return self._deliver_and_schedule(item, secret, resumed=False)

    def _create(self, item: ExpiryItem) -> tuple[str, SecretStr] | UserResult:
        try:
            created = self.iam.create_access_key(UserName=item.user_name)["AccessKey"]
        except ClientError as exc:
            if _server_side(exc):
                return self._maybe_created(item, aws_reason(exc))
            self.ctx.table.drop(item)  # AWS said no: no key was made
            return _failed(item, f"could not create a new key: {aws_reason(exc)}; old key {item.old_key_id} kept")
        except BotoCoreError as exc:
            return self._maybe_created(item, aws_reason(exc))
        remember(created["SecretAccessKey"])  # scrubbed from any text that comes back from outside
        return created["AccessKeyId"], SecretStr(created["SecretAccessKey"])

    def _maybe_created(self, item: ExpiryItem, reason: str) -> UserResult:
        """CreateAccessKey's answer was lost or a server error: a key may exist that ikr cannot name.
        The journal stays and the lease ends; the next run looks for a key nobody recorded."""
        self.ctx.table.advance(item, lease_until=epoch(self.ctx.time()))
        logger.error(
            "CreateAccessKey may have made a key whose id never arrived",
            extra={"account_id": item.account_id, "user": item.user_name, "reason": reason},
        )
        return _failed(
            item,
            f"could not tell whether a new key was made ({reason}); old key {item.old_key_id} kept; the next run "
            "looks for a key ikr did not record and makes it inactive if it was never used",
        )

    def _lost_before_recording(self, item: ExpiryItem, new_key_id: str, found: ExpiryItem | None) -> UserResult:
        """Overtaken between CreateAccessKey and recording its id: the key is ours (we hold its answer)
        and was never delivered, so it is removed; the user is left to the run that took over."""
        try:
            self.iam.delete_access_key(UserName=item.user_name, AccessKeyId=new_key_id)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "NoSuchEntity":
                raise
        logger.warning(
            "rotation lease lost before the new key was recorded; that undelivered key removed",
            extra={"account_id": item.account_id, "user": item.user_name, "removed_key_id": new_key_id},
        )
        return self._conflict(item, found, f"this run's undelivered key {new_key_id} removed; ")

    # -- a rotation an earlier run left half-way ------------------------------------------------
    def resume(self, item: ExpiryItem) -> UserResult:
        """Finish or undo a journal whose lease expired (the caller checks); in-progress otherwise."""
        if self.ctx.dry_run:
            return self._recovered(item, self._would(item))
        try:
            item = self.ctx.table.take_over(item, self.owner, self._lease_until())
        except LeaseConflict as exc:
            return self._conflict(item, exc.found)
        try:
            keys = access_keys(self.iam, item.user_name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "NoSuchEntity":
                raise
            self.store.delete_pending(item.user_name)
            self.ctx.table.drop(item)
            return self._recovered(item, "the user of an interrupted rotation no longer exists; journal removed")
        if item.state is State.DELIVERED:
            return self._resume_delivered(item)
        return self._resume_undelivered(item, keys)

    def _resume_undelivered(self, item: ExpiryItem, keys: tuple[AccessKey, ...]) -> UserResult:
        live = {key.key_id: key for key in keys}
        recorded = item.new_key_id if item.state is State.KEY_CREATED else None
        if recorded is not None and recorded in live:
            pending = self.store.get_pending(item.user_name)
            if pending is not None and pending.key_id == recorded:
                return self._deliver_and_schedule(item, pending.secret, resumed=True)
            if item.delivery_uncertain_at is not None:
                return self._cannot_resend(item)
        unrecorded = [key for key in keys if key.key_id not in {item.old_key_id, recorded, *item.known_keys}]
        return self._roll_back(item, recorded if recorded in live else None, unrecorded)

    def _would(self, item: ExpiryItem) -> str:
        """What resuming would do, read-only (a dry run)."""
        try:
            keys = access_keys(self.iam, item.user_name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "NoSuchEntity":
                raise
            return "would remove the journal of an interrupted rotation whose user no longer exists"
        if item.state is State.DELIVERED:
            return f"would finish an interrupted rotation: key {item.new_key_id} was delivered"
        live = {key.key_id for key in keys}
        recorded = item.new_key_id if item.state is State.KEY_CREATED else None
        if recorded is not None and recorded in live:
            pending = self.store.get_pending(item.user_name)
            if pending is not None and pending.key_id == recorded:
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

    def _resume_delivered(self, item: ExpiryItem) -> UserResult:
        deletes_at = from_epoch(item.delete_at) if item.delete_at is not None else self.ctx.time()
        self.store.delete_pending(item.user_name)
        self.ctx.table.advance(item, state=State.SCHEDULED, expires_at=epoch(deletes_at))
        return self._recovered(
            item,
            f"finished an interrupted rotation: key {item.new_key_id} was delivered; old key {item.old_key_id} "
            f"deleted at {deletes_at:%Y-%m-%d %H:%M} UTC",
            deletes_at=deletes_at,
        )

    def _cannot_resend(self, item: ExpiryItem) -> UserResult:
        """A key whose delivery was uncertain, and its pending pair is gone: it may be in use, so both
        keys stay and a person decides."""
        self.ctx.table.drop(item)
        lines = [
            f"The delivery of new key {item.new_key_id} of IAM user {item.user_name} in account {item.account_id} "
            "was uncertain, and the copy ikr keeps to send it again is gone.",
            f"Both keys are kept: the new key {item.new_key_id} may be in use, the old key {item.old_key_id} too. "
            "Delete the one nobody uses; ikr rotates the user again once it has one key.",
        ]
        self._tell_admin("uncertain delivery cannot be repeated", lines, item)
        return _failed(item, " ".join(lines[1:]))

    def _roll_back(self, item: ExpiryItem, recorded: str | None, unrecorded: list[AccessKey]) -> UserResult:
        """Undo an interrupted rotation: its recorded, undelivered key goes; a key ikr never recorded
        is only ever made inactive. The journal goes last, so a crash in between is undone again."""
        fates = [self._handle_unrecorded(item, key) for key in unrecorded]
        if recorded is not None:
            try:
                self.iam.delete_access_key(UserName=item.user_name, AccessKeyId=recorded)
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "NoSuchEntity":
                    raise
        self.store.delete_pending(item.user_name)
        self.ctx.table.drop(item)
        what = f"removed undelivered key {recorded}" if recorded else "removed no key"
        logger.warning(
            "undid an interrupted rotation",
            extra={"account_id": item.account_id, "user": item.user_name, "removed_key_id": recorded},
        )
        detail = f"undid an interrupted rotation: {what}; old key {item.old_key_id} kept"
        if fates:
            return _failed(item, "; ".join([detail, *fates]))
        return self._recovered(item, detail)

    def _handle_unrecorded(self, item: ExpiryItem, key: AccessKey) -> str:
        """A key ikr never recorded appeared while the crashed run held the lease: never deleted here."""
        answer = self.iam.get_access_key_last_used(AccessKeyId=key.key_id).get("AccessKeyLastUsed", {})
        used_at = answer.get("LastUsedDate")
        where = f"IAM user {item.user_name} in account {item.account_id}"
        if used_at is not None:
            lines = [
                f"Key {key.key_id} of {where} appeared while an ikr rotation was interrupted, and ikr did not make "
                f"it (or cannot prove it did). It was used at {used_at:%Y-%m-%d %H:%M} UTC, so ikr leaves it alone.",
                f"The user now has two keys ({item.old_key_id} and {key.key_id}); ikr skips a user with two keys. "
                f"Delete the one nobody uses: aws iam delete-access-key --user-name {item.user_name} "
                f"--access-key-id <KEY>; ikr rotates the user as usual once it has one key.",
            ]
            self._tell_admin("unrecorded key left alone", lines, item, key.key_id)
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
            run_id=self.owner,
            expires_at=epoch(deletes_at),
            delete_at=epoch(deletes_at),
            unrecorded=True,
        )
        self.ctx.table.put(marker)  # first: should the process die now, the item still leads to the key
        if key.status is KeyStatus.ACTIVE:
            self.iam.update_access_key(UserName=item.user_name, AccessKeyId=key.key_id, Status="Inactive")
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
        self._tell_admin("unrecorded key made inactive", lines, item, key.key_id)
        if item.email:
            try:
                self.ctx.mailer.send(_plain_mail(item.email, f"[ikr] key {key.key_id} made inactive", lines))
            except DeliveryError as exc:
                logger.error(
                    "owner not told of the unrecorded key",
                    extra={"account_id": item.account_id, "user": item.user_name, "reason": str(exc)},
                )
        return " ".join(lines)

    # -- shared steps ---------------------------------------------------------------------------
    def _deliver_and_schedule(self, item: ExpiryItem, secret: SecretStr, resumed: bool) -> UserResult:
        assert item.new_key_id is not None
        delivery = recorded_delivery(item.delivery)
        days = timedelta(days=item.delete_after_days or 1)
        try:
            if delivery.to_store:
                version = write_pair(self.ctx.session, delivery, item.new_key_id, secret, self._where(item))
                # Told before the delivery is recorded, so a crash repeats the notice rather than losing it.
                self._tell_owner(item, delivery, version, self.ctx.time() + days)
            else:
                self._mail(item, secret, self.ctx.time() + days)
        except DeliveryUncertain as exc:
            return self._uncertain(item, str(exc))
        except _DELIVERY_FAILURES as exc:
            reason = str(exc) if isinstance(exc, DeliveryError | SecretStoreError) else aws_reason(exc)
            if resumed or item.delivery_uncertain_at is not None:
                return self._keep_for_next_run(item, reason)
            return self._give_up(item, reason)
        # Counted from this moment: a late or repeated delivery never promises a deletion in the past.
        deletes_at = self.ctx.time() + days
        try:
            item = self.ctx.table.advance(item, state=State.DELIVERED, delete_at=epoch(deletes_at))
        except LeaseConflict as exc:
            # Overtaken after delivering: the run that took over delivers the same pair and schedules.
            return self._conflict(item, exc.found, f"key {item.new_key_id} delivered; ")
        self.store.delete_pending(item.user_name)
        self.ctx.table.advance(item, state=State.SCHEDULED, expires_at=epoch(deletes_at))
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
                f"ikr {'finished rotating' if resumed else 'rotated'} {item.user_name} in {self._account_label}: "
                f"{detail}",
                at=deletes_at,
                details={"resumed": resumed, "old_key_fate": fate},
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

    def _uncertain(self, item: ExpiryItem, reason: str) -> UserResult:
        """The delivery may have happened: the key is never removed as undelivered. The journal and the
        pending pair stay, the lease ends now, and the next run delivers the same key again."""
        now = epoch(self.ctx.time())
        try:
            self.ctx.table.advance(item, delivery_uncertain_at=now, lease_until=now)
        except LeaseConflict as exc:
            return self._conflict(item, exc.found, f"delivery of key {item.new_key_id} uncertain; ")
        lines = [
            f"The delivery of new key {item.new_key_id} of IAM user {item.user_name} in account {item.account_id} "
            f"is uncertain: {reason}.",
            "The recipient may hold the key, so it is kept. The next run delivers the same key again (never a new "
            f"one); the old key {item.old_key_id} is kept until that delivery is confirmed.",
        ]
        self._tell_admin("delivery uncertain", lines, item)
        self.ctx.notifier.notify(
            Notice.about(
                item,
                Event.DELIVERY_FAILED,
                f"ikr: delivery of {item.user_name}'s new key in {self._account_label} is uncertain ({reason}); "
                "the same key is sent again on the next run",
                details={"reason": reason, "uncertain": True},
            )
        )
        return _failed(item, f"delivery uncertain ({reason}); " + lines[1])

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
            fernet_key = self.store.get_or_create(item.user_name)
            encrypted_id = crypto.encrypt(fernet_key, item.new_key_id)
            secret = SecretStr(crypto.encrypt(fernet_key, secret.get_secret_value()))
            remember(secret.get_secret_value())
        notice = NewKeyNotice(
            account=self.ctx.scope.account,
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

    def _keep_for_next_run(self, item: ExpiryItem, reason: str) -> UserResult:
        # This key may have been delivered before (a crashed run, an uncertain delivery): removing it
        # could lock out whoever got it. The journal and the pending pair stay; the lease ends now.
        try:
            self.ctx.table.advance(item, lease_until=epoch(self.ctx.time()))
        except LeaseConflict as exc:
            return self._conflict(item, exc.found)
        logger.error(
            "re-delivery of an interrupted rotation failed; key kept for the next run",
            extra={"account_id": item.account_id, "user": item.user_name, "reason": reason},
        )
        return _failed(
            item,
            f"could not deliver the interrupted rotation's key {item.new_key_id} again ({reason}); it may have "
            "been delivered before, so it is kept and the next run delivers it again",
        )

    def _give_up(self, item: ExpiryItem, reason: str) -> UserResult:
        try:
            self._undo(item)
        except LeaseConflict as exc:
            return self._conflict(item, exc.found, f"delivery failed ({reason}); ")
        except (ClientError, BotoCoreError, IkrError):
            # The journal stays; its lease ends now, so the next run finishes the undo at once.
            with contextlib.suppress(ClientError, BotoCoreError, IkrError):
                self.ctx.table.advance(item, lease_until=epoch(self.ctx.time()))
            raise
        logger.error(
            "delivery failed; new key removed, old key kept",
            extra={"account_id": item.account_id, "user": item.user_name, "reason": reason},
        )
        detail = f"delivery failed ({reason}); new key {item.new_key_id} removed, old key {item.old_key_id} kept"
        self.ctx.notifier.notify(
            Notice.about(
                item,
                Event.DELIVERY_FAILED,
                f"ikr could not rotate {item.user_name} in {self._account_label}: {detail}",
                details={"reason": reason},
            )
        )
        return _failed(item, detail)

    def _where(self, item: ExpiryItem) -> str:
        return f"account {item.account_id} user {item.user_name}"

    @property
    def _account_label(self) -> str:
        account = self.ctx.scope.account
        return f"account {account.name} ({account.id})"

    def _undo(self, item: ExpiryItem) -> None:
        """Remove an undelivered key this run recorded, its pending pair, then the journal (in that
        order: a crash between them leaves a journal the next run finishes). Still the owner first:
        a run that took over may have delivered this key."""
        self.ctx.table.advance(item, lease_until=self._lease_until())
        if item.new_key_id is not None:
            try:
                self.iam.delete_access_key(UserName=item.user_name, AccessKeyId=item.new_key_id)
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "NoSuchEntity":
                    raise
        self.store.delete_pending(item.user_name)
        self.ctx.table.drop(item)

    def _conflict(self, item: ExpiryItem, found: ExpiryItem | None, prefix: str = "") -> UserResult:
        """Another run holds or finished this rotation: this run leaves the user to it, cleanly."""
        if found is not None and found.state in JOURNAL_STATES:
            detail = prefix + in_progress_detail(found)
        elif found is not None:
            detail = f"{prefix}rotated meanwhile by run {found.run_id or '?'}; left to it"
        else:
            detail = f"{prefix}rotation finished or undone meanwhile by another run; left to it"
        logger.info(
            "rotation left to another run",
            extra={"account_id": item.account_id, "user": item.user_name, "detail": detail},
        )
        return UserResult(
            user=item.user_name,
            outcome=Outcome.IN_PROGRESS,
            detail=detail,
            old_key_id=item.old_key_id,
            new_key_id=found.new_key_id if found is not None else None,
        )

    def _tell_admin(self, subject: str, lines: list[str], item: ExpiryItem, key_id: str | None = None) -> None:
        fields: dict[str, object] = {"account_id": item.account_id, "user": item.user_name}
        if key_id:
            fields["key_id"] = key_id
        if self.ctx.admin is not None:
            self.ctx.admin.notify(subject, lines, **fields)
        else:
            logger.error(f"admin notice: {subject}", extra={"notice": lines, **fields})

    def _recovered(self, item: ExpiryItem, detail: str, deletes_at: datetime | None = None) -> UserResult:
        return UserResult(
            user=item.user_name,
            outcome=Outcome.WOULD_RECOVER if self.ctx.dry_run else Outcome.RECOVERED,
            new_key_id=item.new_key_id,
            old_key_id=item.old_key_id,
            old_key_deleted_at=deletes_at,
            detail=detail,
        )


def _server_side(exc: ClientError) -> bool:
    """An error answer that does not prove the request was not carried out (5xx after the retries)."""
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0) >= 500


def _plain_mail(to: str, subject: str, lines: list[str]) -> Mail:
    text = "\n".join([*lines, "", "-- ikr, IAM key rotation"])
    return Mail(to=to, subject=subject, text=text, html="".join(f"<p>{escape(line)}</p>" for line in lines))


def _failed(item: ExpiryItem, detail: str) -> UserResult:
    return UserResult(
        user=item.user_name,
        outcome=Outcome.FAILED,
        failed=True,
        detail=detail,
        old_key_id=item.old_key_id,
        new_key_id=item.new_key_id,
    )
