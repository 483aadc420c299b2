"""The expiry table's item: one rotation from intent to the old key's deletion, its states and
numbers, and how it is written to and read from DynamoDB (`central.aws.expiry_table` does the calls).
No secret is ever part of an item."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from aws_lambda_powertools import Logger
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator

from central.domain.bounds import MAX_DAYS, MAX_DESTROY_ATTEMPTS, MAX_EPOCH
from central.domain.errors import InvalidItemError
from central.domain.policy import PendingOld

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

TTL_ATTRIBUTE = "expires_at"

# The partition of the run's own state (the fan-out walk's position, the mail-quota notice): account
# ids are 12 digits, so no account's items are ever here. Its items carry no `state` or `expires_at`:
# the sweep's scan never returns them, TTL never removes them, so no REMOVE ever wakes the destructor.
RUN_PARTITION = "#ikr-run"

# The due-retries index (`central.aws.retry_marks`): sparse, so only what waits for a retry is in it.
# Every entry has the same partition value; its sort key is when the retry is due (epoch seconds).
RETRY_INDEX = "due-retries"
RETRY_QUEUE_ATTRIBUTE = "retry_queue"
RETRY_AT_ATTRIBUTE = "retry_at"
RETRY_QUEUE = "due"
# The destructor's outcome for a failed attempt put back RETRY_AFTER_MINS later
# (`central.retirement.outcome.Destroyed.RETRY`).
RETRY_OUTCOME = "retry-scheduled"

logger = Logger(service="ikr")


class State(StrEnum):
    STARTED = "started"  # intent written; CreateAccessKey may or may not have happened
    KEY_CREATED = "key-created"  # new key exists and is kept for re-delivery; the mail may have gone
    DELIVERED = "delivered"  # the mail went out: the new key stays; `delete_at` is what it promised
    SCHEDULED = "scheduled"  # the old key waits for expires_at (to be deactivated or deleted)
    FAILED = "failed"  # destruction gave up after IKR_MAX_DESTROY_ATTEMPTS; kept for people, no TTL
    RETIRED = "retired"  # tombstone: the destructor retired the key (or kept it for good); TTL removes it


# Stream records are kept 24 hours: a tombstone outlives every redelivery of the record it answers.
TOMBSTONE_LIFE = timedelta(days=2)
# Where the answer to a record goes when the key stays (an unrecorded key someone re-activated): not
# at the item's own key, so a later rotation of that key never meets it.
KEPT_SUFFIX = "#kept"


# Allowed values of the item's numbers; every other number is an epoch second in 0..MAX_EPOCH.
_RANGES = {"attempts": (0, MAX_DESTROY_ATTEMPTS), "delete_after_days": (1, MAX_DAYS)}


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def from_epoch(seconds: int | Decimal) -> datetime:
    return datetime.fromtimestamp(int(seconds), UTC)


def _whole_number(value: Any) -> Any:
    # DynamoDB numbers arrive as Decimal; pydantic refuses a Decimal for int only if fractional.
    return int(value) if isinstance(value, Decimal) and value == int(value) else value


class Handling(BaseModel):
    """The destructor's answer to one stream record, written with the item it puts back or the
    tombstone: which record (`event`), what it decided, and what the notices need. No secret."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event: str  # the stream record's eventID (or a digest of its old image when it has none)
    outcome: str  # a `central.retirement.destroy.Destroyed` value
    at: int  # when it was decided, on ikr's clock
    noticed_at: int | None = None  # the notices were claimed (sent at most once per record)
    retired_unused: bool = False  # retired although the new key was never used (grace time over)
    # The old key's use after the new key was mailed: the reminder's content.
    last_used_at: int | None = None
    last_used_service: str | None = None
    last_used_region: str | None = None

    @field_validator("at", "noticed_at", "last_used_at", mode="before")
    @classmethod
    def _whole(cls, value: Any) -> Any:
        return _whole_number(value)


class Imported(BaseModel):
    """An old key taken over from aws-iam-key-rotator's table (`ikr import-original`): where it came
    from, and that tool's word on the user's Fernet key parameter (its `delete_enc_key`)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    table: str  # the original's table the item was read from
    delete_enc_key: bool  # True ("Y"): the parameter goes with the old key, as the original did
    at: int  # when it was imported

    @field_validator("at", mode="before")
    @classmethod
    def _whole(cls, value: Any) -> Any:
        return _whole_number(value)


class Restored(BaseModel):
    """`ikr restore`: the old key re-activated and its retirement moved to `until` (who, when, why).
    `base` is the retirement time the first restore of this window counted from, so a repeated
    restore lands on the same `until` and never postpones twice."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    at: int  # when it was restored, on ikr's clock
    by: str  # who asked (the caller's ARN, or the Lambda event's `by`)
    reason: str | None = None
    days: int
    base: int  # the retirement time the days were added to
    until: int  # the new retirement time (the item's expires_at)
    forced: bool = False  # an exposed key, restored with --force

    @field_validator("at", "days", "base", "until", mode="before")
    @classmethod
    def _whole(cls, value: Any) -> Any:
        return _whole_number(value)


class ExpiryItem(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    account_id: str
    user_name: str
    old_key_id: str
    state: State
    started_at: int
    email: str | None = None
    new_key_id: str | None = None
    expires_at: int | None = None
    attempts: int = 0
    swept_at: int | None = None
    last_error: str | None = None
    run_id: str | None = None
    # What a resumed rotation needs to mail the same key again (never a secret):
    delete_after_days: int | None = None
    instructions: str | None = None
    delete_at: int | None = None  # the deletion time the mail promised (not the TTL attribute)
    delivery: str | None = None  # IKR:DELIVERY target (`secretsmanager:<name>`, `ssm:<name>`); None: mail
    verify_use: bool = False  # retire the old key only once the new one is seen in use
    # The old key's retirement (destructor):
    deactivated_at: int | None = None  # made Inactive then; deleted at expires_at
    reminded_at: int | None = None  # the user was told the old key was still in use
    failed_at: int | None = None  # destruction gave up (state failed)
    postponed_at: int | None = None  # last time retirement waited for the new key's first use
    # The rotation's lease (journal states only): who owns it and until when, on ikr's one clock.
    lease_until: int | None = None
    known_keys: tuple[str, ...] = ()  # the user's key ids when the lease was taken
    delivery_uncertain_at: int | None = None  # a delivery's answer was lost: the key may be out
    # A key that appeared during an interrupted rotation and that ikr never recorded (maybe made by
    # hand): deactivated, never deleted unless it is still Inactive at expires_at.
    unrecorded: bool = False
    # The destructor's answer to the stream record that removed this item (put-backs, tombstones).
    handling: Handling | None = None
    # Taken over from the original tool's table (None: ikr's own rotation).
    imported: Imported | None = None
    # Why the rotation was asked for regardless of age (on demand, "exposed"); None: it was due.
    reason: str | None = None
    # AWS reported the old key exposed (AWS_RISK_CREDENTIALS_EXPOSED): made Inactive and its deletion
    # moved earlier then. Written once, conditionally: the handling that writes it tells people.
    exposed_at: int | None = None
    # The last `ikr restore` of this old key (issue 18.4).
    restored: Restored | None = None

    @property
    def keeps_encryption_key(self) -> bool:
        """The original rotated with ENCRYPT_KEY_PAIR=false (delete_enc_key N): its destructor left the
        user's Fernet key parameter alone, and so does ikr's for this item."""
        return self.imported is not None and not self.imported.delete_enc_key

    @field_validator(
        "started_at",
        "expires_at",
        "attempts",
        "swept_at",
        "delete_after_days",
        "delete_at",
        "deactivated_at",
        "reminded_at",
        "failed_at",
        "postponed_at",
        "lease_until",
        "delivery_uncertain_at",
        "exposed_at",
        mode="before",
    )
    @classmethod
    def _whole(cls, value: Any) -> Any:
        # DynamoDB numbers arrive as Decimal; pydantic refuses a Decimal for int only if fractional.
        # NaN and Infinity (a stream record can carry them) have no int: int() would raise OverflowError.
        if isinstance(value, Decimal):
            finite = value.is_finite()  # also for a signalling NaN, which math.isfinite refuses
        else:
            finite = not isinstance(value, float) or math.isfinite(value)
        if isinstance(value, bool) or not finite:
            raise ValueError(f"{value} is not a number of seconds, days or attempts")
        return int(value) if isinstance(value, Decimal) and value == int(value) else value

    @field_validator("*")  # every number, also of fields added later
    @classmethod
    def _in_range(cls, value: Any, info: ValidationInfo) -> Any:
        # Every number here reaches datetime arithmetic or a count: one out of range (1E+125, -5) is
        # refused here, as an InvalidItemError naming the field, instead of an OverflowError later.
        if not isinstance(value, int) or isinstance(value, bool):
            return value
        low, high = _RANGES.get(info.field_name or "", (0, MAX_EPOCH))
        if not low <= value <= high:
            shown = f"{Decimal(value):.3e}" if abs(value) > 10**15 else str(value)  # 1E+125 has 126 digits
            raise ValueError(f"{shown} is outside {low}..{high}")
        return value

    @property
    def item_key(self) -> str:
        return f"{self.user_name}#{self.old_key_id}"

    @property
    def where(self) -> str:
        return f"account {self.account_id} user {self.user_name} key {self.old_key_id}"

    def to_item(self) -> dict[str, Any]:
        plain = self.model_dump(mode="json", exclude_none=True)  # nested too: absent, never NULL
        plain["item_key"] = self.item_key
        plain.update(self._retry_entry())
        return {key: _serializer.serialize(value) for key, value in plain.items()}

    def _retry_entry(self) -> dict[str, Any]:
        """The due-retries index's attributes, derived at every write and never stored in the model,
        so no later write can carry a stale entry: only a failed destruction put back for a retry
        is in the index, due when its item is."""
        retry = self.handling is not None and self.handling.outcome == RETRY_OUTCOME
        if self.state is not State.SCHEDULED or not retry or self.expires_at is None:
            return {}
        return {RETRY_QUEUE_ATTRIBUTE: RETRY_QUEUE, RETRY_AT_ATTRIBUTE: self.expires_at}

    @classmethod
    def from_plain(cls, plain: dict[str, Any]) -> ExpiryItem:
        try:
            return cls.model_validate(plain)
        except ValidationError as exc:
            fields = ", ".join(
                f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"
                for error in exc.errors(include_url=False, include_input=False)
            )
            ident = f"account {plain.get('account_id', '?')} item {plain.get('item_key', '?')}"
            raise InvalidItemError(f"expiry item of {ident} is not usable ({fields})") from None

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> ExpiryItem:
        return cls.from_plain({key: _deserializer.deserialize(value) for key, value in item.items()})


def pending_old_keys(items: Iterable[ExpiryItem], now: datetime) -> dict[str, list[PendingOld]]:
    """Old keys recorded for deletion, per user, as `decide` takes them (a `failed` item: given up)."""
    pending: dict[str, list[PendingOld]] = {}
    for item in items:
        if item.state in (State.SCHEDULED, State.FAILED):
            expires = from_epoch(item.expires_at) if item.expires_at is not None else now
            pending.setdefault(item.user_name, []).append(
                PendingOld(
                    key_id=item.old_key_id,
                    expires_at=expires,
                    gave_up=item.state is State.FAILED,
                    unrecorded=item.unrecorded,
                )
            )
    return pending


def is_tombstone(raw: dict[str, Any]) -> bool:
    return raw.get("state") == {"S": State.RETIRED.value}


def valid_item(raw: dict[str, Any]) -> ExpiryItem | None:
    """An item ikr can act on, or None after an error log: one bad item never stops a run."""
    try:
        return ExpiryItem.from_item(raw)
    except InvalidItemError as exc:
        logger.error("expiry item ignored", extra={"reason": str(exc)})
        return None
