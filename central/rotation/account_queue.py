"""The account queue: one SQS message per account, from the rotator to the account worker.

A message holds all the worker needs to rotate the account without a discovery of its own: the
account with its OU path, and either its inherited policy and where each part came from (version 2)
or the OUs' and root's IKR: tags for the worker to resolve it with the account's own tags, which it
reads itself (version 3: the rotator's Organizations calls stay one per page, not one per account),
the run's instant and id, and the
old keys the run's sweep just removed there (their destructor may not have run yet: those users
show pending, not two keys). `part` counts the passes over one account: a worker that runs low on
time queues the account again as the next part.

Version 2 carries the opt-in and the days' sources as structured values. A version 1 message (the
sources as text, e.g. "OU ou-x (Workloads) tag IKR:ROTATE_AFTER_DAYS") may still wait in a deployed
queue: it is read by matching its text against what the account's own scopes render to.

Sending is SendMessageBatch (`central.aws.sqs_queue`), 10 messages (and at most 256 KiB) a call.
Entries SQS refused for a passing reason are sent once more; what still fails is reported per account.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from central.aws.expiry_item import ExpiryItem, State
from central.aws.sqs_queue import Refused, SqsQueue
from central.domain import bounds
from central.domain import tags as t
from central.domain.model import Account
from central.domain.scope import AccountScope, Days, chain
from central.domain.sources import OptIn, Source
from central.rotation.run import AccountWork

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

MAX_BATCH = 10  # SendMessageBatch's limit
MAX_BATCH_BYTES = 256 * 1024  # SQS's limit on one message and on a whole batch


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SweptKey(_Message):
    """An old key the run's sweep removed from the table: its user shows pending meanwhile."""

    user_name: str = Field(min_length=1)
    old_key_id: str = Field(min_length=1)
    started_at: int = Field(ge=0, le=bounds.MAX_EPOCH)
    expires_at: int | None = Field(None, ge=0, le=bounds.MAX_EPOCH)
    new_key_id: str | None = None


class AccountMessage(_Message):
    # 1: sources as text, upgraded on reading (`_from_version_1`); 2: the policy resolved by the
    # rotator; 3: the policy left to the worker, which reads the account's own tags (`needs_scope`).
    version: Literal[1, 2, 3] = 2
    run_id: str = Field(min_length=1, max_length=64)
    now: AwareDatetime
    # Id, name, state and OU path. Version 2: no tags (the policy below is resolved); version 3: the
    # OUs' and root's IKR: tags, which the worker's resolution reads with the account's own.
    account: Account
    opt_in: OptIn | None = None  # set exactly in versions 1 and 2
    rotate_after: Days | None = None
    delete_after: Days | None = None
    swept: tuple[SweptKey, ...] = ()
    part: int = Field(1, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _from_version_1(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("version") == 1:
            return upgrade_version_1(data)
        return data

    @model_validator(mode="after")
    def _policy_by_version(self) -> AccountMessage:
        resolved = [value is not None for value in (self.opt_in, self.rotate_after, self.delete_after)]
        if self.version == 3 and any(resolved):
            raise ValueError("a version 3 message leaves the policy to the worker: no opt_in or days")
        if self.version != 3 and not all(resolved):
            raise ValueError(f"a version {self.version} message needs opt_in, rotate_after and delete_after")
        return self

    @property
    def needs_scope(self) -> bool:
        """The worker reads the account's own tags and resolves its policy first (version 3)."""
        return self.version == 3

    @classmethod
    def for_account(
        cls, account: Account, run_id: str, now: datetime, being_deleted: Sequence[ExpiryItem] = ()
    ) -> AccountMessage:
        """A message whose policy the worker resolves: the account as the walk found it (its own tags
        not read), with its OUs' tags."""
        return cls(
            version=3,
            run_id=run_id,
            now=now,
            account=account.model_copy(update={"tags": ()}),
            swept=_swept(being_deleted),
        )

    def resolved(self, scope: AccountScope) -> AccountMessage:
        """This message with the account's policy resolved (version 2), as a later part carries it."""
        work = AccountWork(scope=scope, now=self.now, run_id=self.run_id)
        return AccountMessage.for_work(work).model_copy(update={"swept": self.swept, "part": self.part})

    @field_validator("now")
    @classmethod
    def _sane_now(cls, value: datetime) -> datetime:
        return bounds.check_now(value)  # the worker adds up to a century to it

    @classmethod
    def for_work(cls, work: AccountWork) -> AccountMessage:
        account = work.scope.account
        return cls(
            run_id=work.run_id,
            now=work.now,
            account=account.model_copy(
                update={"tags": (), "path": tuple(unit.model_copy(update={"tags": ()}) for unit in account.path)}
            ),
            opt_in=work.scope.opt_in,
            rotate_after=work.scope.rotate_after,
            delete_after=work.scope.delete_after,
            swept=_swept(work.being_deleted),
        )

    def work(self) -> AccountWork:
        if self.opt_in is None or self.rotate_after is None or self.delete_after is None:
            raise ValueError(f"account {self.account.id}: the message's policy is not resolved yet")
        scope = AccountScope(
            account=self.account,
            opt_in=self.opt_in,  # managed: only opted-in accounts with sound tags are queued
            rotate_after=self.rotate_after,
            delete_after=self.delete_after,
        )
        swept = tuple(
            ExpiryItem(account_id=self.account.id, state=State.SCHEDULED, **key.model_dump()) for key in self.swept
        )
        return AccountWork(scope=scope, now=self.now, run_id=self.run_id, being_deleted=swept)

    def next_part(self) -> AccountMessage:
        return self.model_copy(update={"part": self.part + 1})

    def body(self) -> str:
        return self.model_dump_json()


def _swept(items: Sequence[ExpiryItem]) -> tuple[SweptKey, ...]:
    return tuple(
        SweptKey(
            user_name=item.user_name,
            old_key_id=item.old_key_id,
            started_at=item.started_at,
            expires_at=item.expires_at,
            new_key_id=item.new_key_id,
        )
        for item in items
    )


def upgrade_version_1(data: dict[str, Any]) -> dict[str, Any]:
    """A version 1 message as version 2. Its sources are text that `Source` and `OptIn` render; the
    account in the message names every scope they can come from, so each text is looked up among the
    renderings of that account's scopes: no parsing of names that may hold any character."""
    account = Account.model_validate(data.get("account"))
    levels = [held.level for held in chain(account)]
    sources = [Source.setting("ROTATE_AFTER_DAYS"), Source.setting("DELETE_AFTER_DAYS")]
    sources += [Source.tag(level, key) for level in levels for key in (t.ROTATE_AFTER_DAYS, t.DELETE_AFTER_DAYS)]
    # Only opted-in accounts were queued: a tag that said true, or no Organization.
    opt_ins = [OptIn.standalone(), *(OptIn.by_tag(level, managed=True) for level in levels)]
    upgraded = {key: value for key, value in data.items() if key != "enabled_source"}
    upgraded["version"] = 2
    upgraded["opt_in"] = _known(opt_ins, data.get("enabled_source"), "enabled_source", account)
    for field in ("rotate_after", "delete_after"):
        days = data.get(field)
        if isinstance(days, dict):
            upgraded[field] = {**days, "source": _known(sources, days.get("source"), f"{field}.source", account)}
    return upgraded


def _known(values: Sequence[OptIn | Source], text: object, field: str, account: Account) -> OptIn | Source:
    for value in values:
        if str(value) == text:
            return value
    raise ValueError(f"version 1 {field} {text!r} names no scope of account {account.id}")


@dataclass(frozen=True)
class QueueFailure:
    account_id: str
    reason: str


class AccountQueue:
    def __init__(self, sqs: SQSClient, url: str) -> None:
        self._queue = SqsQueue(sqs, url)
        self.url = url

    def send(self, messages: Sequence[AccountMessage]) -> list[QueueFailure]:
        failures: list[QueueFailure] = []
        for batch in _batches(messages):
            entries = {str(index): message for index, message in enumerate(batch)}
            refused = self._send(entries)
            again = {entry: entries[entry] for entry, why in refused.items() if not why.final}
            if again:
                refused = {entry: why for entry, why in refused.items() if why.final} | self._send(again)
            failures.extend(QueueFailure(entries[entry].account.id, why.reason) for entry, why in refused.items())
        return failures

    def _send(self, entries: dict[str, AccountMessage]) -> dict[str, Refused]:
        return self._queue.send_batch({entry: message.body() for entry, message in entries.items()})


def _batches(messages: Sequence[AccountMessage]) -> Iterator[list[AccountMessage]]:
    batch: list[AccountMessage] = []
    size = 0
    for message in messages:
        length = len(message.body().encode("utf-8"))
        if batch and (len(batch) == MAX_BATCH or size + length > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(message)
        size += length
    if batch:
        yield batch
