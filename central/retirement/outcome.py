"""What handling one stream record may come to, and the answer it writes: the put-back (postponed,
deactivated, retry, failed, too early) or a `retired` tombstone, naming the record it answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from aws_lambda_powertools import Logger

from central.aws.expiry_item import RETRY_OUTCOME, TOMBSTONE_LIFE, ExpiryItem, Handling, State, epoch, from_epoch
from central.aws.expiry_table import ExpiryTable
from central.aws.member import MemberAccount
from central.aws.sessions import SessionBroker
from central.collaborators import Services
from central.notify.admin import AdminNotifier
from central.notify.mailers.base import Mailer
from central.notify.notice import Notifier, NullNotifier

logger = Logger(service="ikr")


class Destroyed(StrEnum):
    DELETED = "deleted"
    DEACTIVATED = "deactivated"  # made Inactive; the item is back for the deletion
    POSTPONED = "postponed"  # the new key is not in use yet (IKR:VERIFY_USE): back in a day, not a failure
    ALREADY_GONE = "already-gone"
    KEPT_ONLY_KEY = "kept-only-key"
    KEPT_REACTIVATED = "kept-reactivated"  # an unrecorded key someone made Active again: ikr leaves it alone
    RETRY = RETRY_OUTCOME  # "retry-scheduled": the item is in the due-retries index until then
    GAVE_UP = "gave-up"  # attempts exhausted: item kept as `failed`, administrator told
    TOO_EARLY = "put-back-too-early"
    IGNORED = "ignored"
    HANDLED = "already-handled"  # another delivery of the same record did (or does) the work and the telling


@dataclass(frozen=True)
class DestroyResult:
    outcome: Destroyed
    detail: str
    reminded: bool = False  # the user was told the old key was still in use


@dataclass(frozen=True)
class DestroyContext:
    broker: SessionBroker
    table: ExpiryTable
    now: datetime
    retry_after: timedelta
    max_attempts: int = 10
    deactivate_days: int = 0
    grace_days: int = 14  # VERIFY_USE_GRACE_DAYS
    mailer: Mailer | None = None  # for the last-use reminder; None: the reminder is only logged
    admin: AdminNotifier | None = None
    notifier: Notifier = field(default_factory=NullNotifier)

    @classmethod
    def from_services(cls, services: Services) -> DestroyContext:
        settings = services.settings
        return cls(
            broker=services.broker,
            table=services.table,
            now=services.clock(),
            retry_after=timedelta(minutes=settings.RETRY_AFTER_MINS),
            max_attempts=settings.IKR_MAX_DESTROY_ATTEMPTS,
            deactivate_days=settings.DEACTIVATE_BEFORE_DELETE_DAYS,
            grace_days=settings.VERIFY_USE_GRACE_DAYS,
            mailer=services.mailer,
            admin=services.admin,
            notifier=services.notifier,
        )

    # Account aliases this batch has read (the deletion mails name the account by it): one
    # ListAccountAliases per account and batch.
    aliases: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def member(self, account_id: str) -> MemberAccount:
        """The adapters of the item's account (assumed into, or the central account itself)."""
        return MemberAccount(self.broker.session_for(account_id), account_id)

    def account_alias(self, account_id: str) -> str:
        if account_id not in self.aliases:
            self.aliases[account_id] = self.member(account_id).alias
        return self.aliases[account_id]


def answer(ctx: DestroyContext, item: ExpiryItem, event: str, outcome: Destroyed, **changes: object) -> ExpiryItem:
    """`item` as this record's answer: the put-back, or with `state=RETIRED` the tombstone."""
    handling = Handling(event=event, outcome=outcome.value, at=epoch(ctx.now))
    return item.model_copy(update={"handling": handling, **changes})


def tombstone_life(ctx: DestroyContext) -> dict[str, object]:
    return {"expires_at": epoch(ctx.now + TOMBSTONE_LIFE), "swept_at": None}


def tombstone(
    ctx: DestroyContext, item: ExpiryItem, event: str, outcome: Destroyed, handling: Handling | None = None
) -> ExpiryItem:
    stone = answer(ctx, item, event, outcome, state=State.RETIRED, **tombstone_life(ctx))
    if handling is not None:
        stone = stone.model_copy(update={"handling": handling.model_copy(update={"outcome": outcome.value})})
    return stone


def retire_by(ctx: DestroyContext, item: ExpiryItem) -> datetime:
    promised = item.delete_at if item.delete_at is not None else item.expires_at
    assert promised is not None
    return from_epoch(promised) + timedelta(days=ctx.grace_days)


def failed_attempt(ctx: DestroyContext, item: ExpiryItem, event: str, reason: str) -> ExpiryItem:
    attempts = item.attempts + 1
    if attempts >= ctx.max_attempts:
        return answer(
            ctx,
            item,
            event,
            Destroyed.GAVE_UP,
            state=State.FAILED,
            attempts=attempts,
            expires_at=None,  # no TTL: the item stays for people to look at
            swept_at=None,
            failed_at=epoch(ctx.now),
            last_error=reason[:500],
        )
    return answer(
        ctx,
        item,
        event,
        Destroyed.RETRY,
        attempts=attempts,
        expires_at=epoch(ctx.now + ctx.retry_after),
        swept_at=None,
        last_error=reason[:500],
    )


def told(ctx: DestroyContext, item: ExpiryItem, answer: ExpiryItem) -> DestroyResult:
    """The result an answer without a key change stands for."""
    assert answer.handling is not None
    outcome = Destroyed(answer.handling.outcome)
    if outcome is Destroyed.DEACTIVATED:
        assert answer.expires_at is not None
        return DestroyResult(
            outcome,
            f"{item.where}: old key made inactive; deleted at {from_epoch(answer.expires_at):%Y-%m-%d %H:%M} UTC",
        )
    if outcome is Destroyed.POSTPONED:
        return DestroyResult(
            outcome,
            f"{item.where}: the new key {item.new_key_id} has not been used yet; old key kept, looked at again in a "
            f"day (retired anyway at {retire_by(ctx, item):%Y-%m-%d %H:%M} UTC)",
        )
    if outcome is Destroyed.RETRY:
        return DestroyResult(outcome, f"{item.where}: {answer.last_error}; retry #{answer.attempts} scheduled")
    if outcome is Destroyed.GAVE_UP:
        return DestroyResult(outcome, f"{item.where}: {answer.last_error}; gave up after {answer.attempts} attempts")
    if outcome is Destroyed.TOO_EARLY:
        return DestroyResult(outcome, f"{item.where}: removed before its deletion time; put back, key kept")
    if outcome is Destroyed.KEPT_REACTIVATED:
        return DestroyResult(outcome, f"{item.where}: an unrecorded key was re-activated; ikr leaves it alone")
    raise AssertionError(f"no key change for {outcome}")


def kept_only_key(item: ExpiryItem) -> DestroyResult:
    # Never leave a user without a working key: the new one was deleted or deactivated by
    # someone. With one key left, the next rotation run rotates it again; with an inactive
    # second key, a person decides (the run reports the user's two keys). Nothing is written:
    # the next rotation of this very key must find its item's place free.
    logger.error(
        "old key is the user's only active key; kept",
        extra={"account_id": item.account_id, "user": item.user_name, "old_key_id": item.old_key_id},
    )
    return DestroyResult(
        Destroyed.KEPT_ONLY_KEY,
        f"{item.where}: it is the user's only active key (the new key is gone or inactive); kept",
    )


# CloudWatch metric of each outcome, as the destructor Lambda emits them (IGNORED has none).
OUTCOME_METRICS = {
    Destroyed.DELETED: "KeysDestroyed",
    Destroyed.ALREADY_GONE: "KeysDestroyed",
    Destroyed.DEACTIVATED: "KeysDeactivated",
    Destroyed.RETRY: "DestructionRetries",
    Destroyed.GAVE_UP: "DestructionsGivenUp",
    Destroyed.KEPT_ONLY_KEY: "OnlyKeysKept",
    Destroyed.KEPT_REACTIVATED: "UnrecordedKeysKept",
    Destroyed.TOO_EARLY: "ItemsPutBack",
    Destroyed.POSTPONED: "RetirementsPostponed",
    Destroyed.HANDLED: "RecordsAlreadyHandled",
}
