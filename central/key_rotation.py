"""One user's rotation, journalled in the expiry table before each step so a crash is resumed or undone.

    begin(started) → CreateAccessKey → SSM pending pair → advance(key-created, new id)
      → [Fernet key, encrypt] → mail → advance(delivered, delete_at) → drop pending pair
      → advance(scheduled, expires_at = delete_at)
    pending pair, encryption or mail failed → DeleteAccessKey(new) → drop pending pair → remove
      journal: the old key stays and nothing is scheduled

A rerun acts on what it finds:
- `started`: the mail cannot have gone (it is sent only after `key-created`): the key that run made
  (the pending pair names it; else the one key made since the journal's start) is removed;
- `key-created`: the mail may have gone. The same pair, kept in SSM, is mailed again (the user may
  get it twice, never two different keys); without the pair the key is removed as undelivered;
- `delivered`: the mail went out; the pending pair is dropped and the old key scheduled for the
  deletion time the mail promised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import SecretStr

from central import aws, crypto
from central.clock import system_clock
from central.delivery import DEFAULT_PREFIX, Delivery, recorded_delivery
from central.errors import DeliveryError, SecretStoreError, aws_reason
from central.expiry_table import ExpiryItem, ExpiryTable, State, epoch, from_epoch
from central.inventory import access_keys
from central.key_stores import write_pair
from central.mail_content import NewKeyNotice, StoredKeyNotice, new_key_mail, new_key_stored_mail
from central.model import AccessKey
from central.notify import Event, Notice, Notifier, NullNotifier
from central.policy import Decision
from central.results import Outcome, UserResult
from central.secrets import UserKeyStore, parameter_name

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_iam import IAMClient

    from central.mailers import Mailer
    from central.scope import AccountScope

logger = Logger(service="ikr")

JOURNAL_STATES = (State.STARTED, State.KEY_CREATED, State.DELIVERED)
# A key this much older than the journal's wall-clock start cannot be the one that run made.
_CLOCK_SLACK = timedelta(minutes=5)
_DELIVERY_FAILURES = (DeliveryError, SecretStoreError, ClientError, BotoCoreError)


@dataclass(frozen=True)
class RotationContext:
    session: boto3.Session
    scope: AccountScope
    now: datetime
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


class KeyRotation:
    """Rotates, resumes or undoes one user's key inside one account."""

    def __init__(self, ctx: RotationContext, iam: IAMClient) -> None:
        self.ctx = ctx
        self.iam = iam
        self.store = UserKeyStore(aws.ssm(ctx.session), ctx.scope.account.id)

    # -- a fresh rotation -----------------------------------------------------------------------
    def rotate(self, decision: Decision) -> UserResult:
        assert decision.key is not None
        assert decision.email is not None
        item = ExpiryItem(
            account_id=self.ctx.scope.account.id,
            user_name=decision.user,
            old_key_id=decision.key.key_id,
            state=State.STARTED,
            started_at=epoch(system_clock()),
            email=decision.email,
            run_id=self.ctx.run_id,
            delete_after_days=decision.delete_after.days,
            instructions=decision.instructions,
            delivery=str(decision.delivery) if decision.delivery.to_store else None,
            verify_use=decision.verify_use,
        )
        try:
            self.ctx.table.begin(item)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return _failed(item, "another run is rotating this user right now; left alone")
            raise
        try:
            created = self.iam.create_access_key(UserName=decision.user)["AccessKey"]
        except (ClientError, BotoCoreError) as exc:
            self.ctx.table.remove(item)
            return _failed(item, f"could not create a new key: {aws_reason(exc)}; old key {item.old_key_id} kept")
        item = item.model_copy(update={"new_key_id": created["AccessKeyId"]})
        secret = SecretStr(created["SecretAccessKey"])
        del created
        try:
            self.store.put_pending(item.user_name, item.new_key_id or "", secret)
        except SecretStoreError as exc:
            return self._give_up(item, str(exc))
        item = self.ctx.table.advance(item, state=State.KEY_CREATED)
        return self._deliver_and_schedule(item, secret, resumed=False)

    # -- a rotation an earlier run left half-way ------------------------------------------------
    def resume(self, item: ExpiryItem) -> UserResult:
        try:
            keys = access_keys(self.iam, item.user_name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "NoSuchEntity":
                raise
            if not self.ctx.dry_run:
                self.store.delete_pending(item.user_name)
                self.ctx.table.remove(item)
            return self._recovered(item, "the user of an interrupted rotation no longer exists; journal removed")
        if item.state is State.DELIVERED:
            return self._resume_delivered(item)
        pending = self.store.get_pending(item.user_name)
        key_ids = {key.key_id for key in keys}
        if (
            item.state is State.KEY_CREATED
            and pending
            and pending.key_id == item.new_key_id
            and pending.key_id in key_ids
        ):
            if self.ctx.dry_run:
                return self._recovered(item, f"would mail the interrupted rotation's key {pending.key_id} again")
            return self._deliver_and_schedule(item, pending.secret, resumed=True)
        return self._roll_back(item, keys, pending.key_id if pending else None)

    def _resume_delivered(self, item: ExpiryItem) -> UserResult:
        deletes_at = from_epoch(item.delete_at) if item.delete_at is not None else self.ctx.now
        if not self.ctx.dry_run:
            self.store.delete_pending(item.user_name)
            self.ctx.table.advance(item, state=State.SCHEDULED, expires_at=epoch(deletes_at))
        return self._recovered(
            item,
            f"finished an interrupted rotation: key {item.new_key_id} was mailed; old key {item.old_key_id} "
            f"deleted at {deletes_at:%Y-%m-%d %H:%M} UTC",
            deletes_at=deletes_at,
        )

    def _roll_back(self, item: ExpiryItem, keys: tuple[AccessKey, ...], pending_key: str | None) -> UserResult:
        known = item.new_key_id if item.state is State.KEY_CREATED else pending_key
        if known is not None:
            made = [key.key_id for key in keys if key.key_id == known]
        else:
            started = from_epoch(item.started_at) - _CLOCK_SLACK
            made = [key.key_id for key in keys if key.key_id != item.old_key_id and key.created >= started]
        if len(made) > 1:
            return _failed(
                item,
                f"interrupted rotation left keys {', '.join(made)}; cannot tell which ikr made, so none is "
                "touched: remove the one nobody uses",
            )
        what = f"undelivered key {made[0]}" if made else "no key"
        if self.ctx.dry_run:
            return self._recovered(item, f"would undo an interrupted rotation ({what} to remove)")
        self._undo(item.model_copy(update={"new_key_id": made[0] if made else None}))
        logger.warning(
            "undid an interrupted rotation",
            extra={"account_id": item.account_id, "user": item.user_name, "removed_key_id": made[0] if made else None},
        )
        return self._recovered(item, f"undid an interrupted rotation: removed {what}; old key {item.old_key_id} kept")

    # -- shared steps ---------------------------------------------------------------------------
    def _deliver_and_schedule(self, item: ExpiryItem, secret: SecretStr, resumed: bool) -> UserResult:
        assert item.new_key_id is not None
        deletes_at = self.ctx.now + timedelta(days=item.delete_after_days or 1)
        delivery = recorded_delivery(item.delivery)
        try:
            if delivery.to_store:
                version = write_pair(self.ctx.session, delivery, item.new_key_id, secret, self._where(item))
                # Told before the delivery is recorded, so a crash repeats the notice rather than losing it.
                self._tell_owner(item, delivery, version, deletes_at)
            else:
                self._mail(item, secret, deletes_at)
        except _DELIVERY_FAILURES as exc:
            reason = str(exc) if isinstance(exc, DeliveryError | SecretStoreError) else aws_reason(exc)
            if resumed:
                return self._keep_for_next_run(item, reason)
            return self._give_up(item, reason)
        item = self.ctx.table.advance(item, state=State.DELIVERED, delete_at=epoch(deletes_at))
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

    def _where(self, item: ExpiryItem) -> str:
        return f"account {item.account_id} user {item.user_name}"

    def _mail(self, item: ExpiryItem, secret: SecretStr, deletes_at: datetime) -> None:
        assert item.email is not None
        assert item.new_key_id is not None
        encrypted_id: str | None = None
        if self.ctx.encrypt:
            fernet_key = self.store.get_or_create(item.user_name)
            encrypted_id = crypto.encrypt(fernet_key, item.new_key_id)
            secret = SecretStr(crypto.encrypt(fernet_key, secret.get_secret_value()))
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
        # The crashed run may have delivered this very key before it died: removing it could lock
        # out whoever got it. The journal and the pending pair stay; the next run delivers again.
        logger.error(
            "re-delivery of an interrupted rotation failed; key kept for the next run",
            extra={"account_id": item.account_id, "user": item.user_name, "reason": reason},
        )
        return _failed(
            item,
            f"could not deliver the interrupted rotation's key {item.new_key_id} again ({reason}); it may have "
            "been delivered before the interruption, so it is kept and the next run delivers it again",
        )

    def _give_up(self, item: ExpiryItem, reason: str) -> UserResult:
        self._undo(item)
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

    @property
    def _account_label(self) -> str:
        account = self.ctx.scope.account
        return f"account {account.name} ({account.id})"

    def _undo(self, item: ExpiryItem) -> None:
        """Remove an undelivered key, its pending pair, then the journal (in that order: a crash
        between them leaves a journal the next run finishes)."""
        if item.new_key_id is not None:
            try:
                self.iam.delete_access_key(UserName=item.user_name, AccessKeyId=item.new_key_id)
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "NoSuchEntity":
                    raise
        self.store.delete_pending(item.user_name)
        self.ctx.table.remove(item)

    def _recovered(self, item: ExpiryItem, detail: str, deletes_at: datetime | None = None) -> UserResult:
        return UserResult(
            user=item.user_name,
            outcome=Outcome.WOULD_RECOVER if self.ctx.dry_run else Outcome.RECOVERED,
            new_key_id=item.new_key_id,
            old_key_id=item.old_key_id,
            old_key_deleted_at=deletes_at,
            detail=detail,
        )


def _failed(item: ExpiryItem, detail: str) -> UserResult:
    return UserResult(
        user=item.user_name,
        outcome=Outcome.FAILED,
        failed=True,
        detail=detail,
        old_key_id=item.old_key_id,
        new_key_id=item.new_key_id,
    )
