"""The shared DynamoDB expiry table: one item per rotation, from intent to the old key's deletion.

Key: `account_id` (partition) and `item_key` = `<user>#<old key id>` (sort), so one Query reads an
account's items and a prefix reads one user's. An item walks through states:

    started ──► key-created ──► delivered ──► scheduled ──(removed at expires_at)──► destructor
       (write-ahead journal: a rerun resumes or rolls back)    (TTL attribute set only here)
                                     destructor ──► scheduled again (put back) | retired (tombstone)

Only `scheduled` items (and tombstones) carry `expires_at`, the TTL attribute, so TTL can never
remove a journal entry. Removing an item fires a stream REMOVE record; the destructor acts only on
scheduled items whose time has passed. No secret is ever written here.

The destructor answers each REMOVE record with one conditional write that names the record (its
`handling`): the item put back (postponed, deactivated, retry, failed, too early), or a short-lived
`retired` tombstone once the old key is to go. A second delivery of the record finds that write and
only finishes what is left; readers of the table never see tombstones (`for_account`, `for_user`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from central.aws.errors import AwsConditionFailed, aws_call
from central.aws.expiry_answers import TableAnswers
from central.aws.expiry_item import TTL_ATTRIBUTE, ExpiryItem, is_tombstone, valid_item
from central.aws.expiry_sweep import TableSweep
from central.aws.expiry_table_setup import TableSetup
from central.aws.reminders import Reminder, Reminders, is_reminder
from central.aws.retry_marks import RetryMarks, is_mark
from central.domain.errors import IkrError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class LeaseConflict(IkrError):
    """A conditional journal write failed: another run holds (or finished) this rotation.

    `found` is the item as it is now (None: gone). Never carries a secret."""

    def __init__(self, item: ExpiryItem, found: ExpiryItem | None) -> None:
        owner = found.run_id if found is not None else None
        super().__init__(f"{item.where}: rotation owned by run {owner or '?'}")
        self.item = item
        self.found = found


@dataclass(frozen=True)
class AccountRecords:
    """What the expiry table holds for one account: its items, and the reminders sent there."""

    items: list[ExpiryItem]
    reminders: tuple[Reminder, ...] = ()


class ExpiryTable(TableSetup, TableAnswers, TableSweep):
    """Every failure comes out as an `AwsError` (central.aws.errors) naming the table and the item; a
    lost conditional write as `LeaseConflict`, or as False from the destructor's writes."""

    def __init__(self, dynamodb: DynamoDBClient, table_name: str) -> None:
        self._db = dynamodb
        self.name = table_name
        self.retries = RetryMarks(dynamodb, table_name)  # the due-retries index and the accounts' marks
        self.reminders = Reminders(dynamodb, table_name)  # reminders sent before a key is due

    def _call(self, operation: str, item: ExpiryItem | None = None) -> AbstractContextManager[None]:
        where = f"table {self.name}" + (f" {item.where}" if item is not None else "")
        return aws_call(f"dynamodb:{operation}", where)

    # -- reading --------------------------------------------------------------------------------
    def for_account(self, account_id: str) -> list[ExpiryItem]:
        with aws_call("dynamodb:Query", f"table {self.name} account {account_id}"):
            return list(self._query(account_id))

    def for_user(self, account_id: str, user_name: str) -> list[ExpiryItem]:
        with aws_call("dynamodb:Query", f"table {self.name} account {account_id} user {user_name}"):
            return list(self._query(account_id, prefix=f"{user_name}#"))

    def account_records(self, account_id: str) -> AccountRecords:
        """The account's expiry items and its reminder records, from the same one Query as `for_account`."""
        reminders: list[Reminder] = []
        with aws_call("dynamodb:Query", f"table {self.name} account {account_id}"):
            items = list(self._query(account_id, reminders=reminders))
        return AccountRecords(items, tuple(reminders))

    def _query(
        self, account_id: str, prefix: str | None = None, reminders: list[Reminder] | None = None
    ) -> Iterator[ExpiryItem]:
        condition = "account_id = :a" + (" AND begins_with(item_key, :p)" if prefix else "")
        values: dict[str, Any] = {":a": {"S": account_id}}
        if prefix:
            values[":p"] = {"S": prefix}
        paginator = self._db.get_paginator("query")
        for page in paginator.paginate(
            TableName=self.name,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=values,
            ConsistentRead=True,
        ):
            for raw in page["Items"]:
                if is_reminder(raw):
                    # A reminder sent (central.aws.reminders): kept apart, never an item to act on.
                    record = Reminder.from_item(raw) if reminders is not None else None
                    if record is not None and reminders is not None:
                        reminders.append(record)
                    continue
                if is_tombstone(raw) or is_mark(raw):
                    continue  # the destructor's record of a handled REMOVE, a retry mark: no one else's business
                item = valid_item(raw)
                if item is not None:
                    yield item

    # -- the rotation journal and its lease -------------------------------------------------------
    # Every journal write is conditional on the writer still owning the lease (`run_id`), so a run
    # that was paused past its lease and overtaken can never write over the run that took over.
    def get(self, account_id: str, item_key: str) -> ExpiryItem | None:
        with aws_call("dynamodb:GetItem", f"table {self.name} account {account_id} item {item_key}"):
            raw = self._db.get_item(
                TableName=self.name,
                Key={"account_id": {"S": account_id}, "item_key": {"S": item_key}},
                ConsistentRead=True,
            ).get("Item")
        return valid_item(raw) if raw else None

    def begin(self, item: ExpiryItem) -> None:
        """Take the lease on a new rotation; LeaseConflict (with the item found) if the item exists."""
        self._conditional(
            item,
            "PutItem",
            lambda: self._db.put_item(
                TableName=self.name, Item=item.to_item(), ConditionExpression="attribute_not_exists(item_key)"
            ),
        )

    def take_over(self, item: ExpiryItem, owner: str, lease_until: int) -> ExpiryItem:
        """Take an expired lease from the run that held it, only if nobody else did first."""
        updated = item.model_copy(update={"run_id": owner, "lease_until": lease_until})
        values: dict[str, Any] = {":s": {"S": item.state.value}}
        condition = "#s = :s"
        if item.run_id is None:
            condition += " AND attribute_not_exists(run_id)"
        else:
            condition += " AND run_id = :o"
            values[":o"] = {"S": item.run_id}
        if item.lease_until is None:
            condition += " AND attribute_not_exists(lease_until)"
        else:
            condition += " AND lease_until = :u"
            values[":u"] = {"N": str(item.lease_until)}
        self._conditional(
            item,
            "PutItem",
            lambda: self._db.put_item(
                TableName=self.name,
                Item=updated.to_item(),
                ConditionExpression=condition,
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues=values,
            ),
        )
        return updated

    def advance(self, item: ExpiryItem, **changes: Any) -> ExpiryItem:
        """Move a rotation on, only from the state it was read in and only while `item.run_id` owns it."""
        return self._put_if(item, item.model_copy(update=changes), self._owned, self._owner_values(item))

    def _put_if(
        self, item: ExpiryItem, updated: ExpiryItem, condition: str, values: dict[str, Any], **names: str
    ) -> ExpiryItem:
        """Write `updated` over `item` where `condition` holds (`#s` is the state); LeaseConflict otherwise."""
        self._conditional(
            item,
            "PutItem",
            lambda: self._db.put_item(
                TableName=self.name,
                Item=updated.to_item(),
                ConditionExpression=condition,
                ExpressionAttributeNames={"#s": "state", **names},
                ExpressionAttributeValues=values,
            ),
        )
        return updated

    def drop(self, item: ExpiryItem) -> None:
        """Remove a journal item this run owns (an undone or abandoned rotation)."""
        self._conditional(
            item,
            "DeleteItem",
            lambda: self._db.delete_item(
                TableName=self.name,
                Key=self._key(item),
                ConditionExpression=self._owned,
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues=self._owner_values(item),
            ),
        )

    def expose(self, item: ExpiryItem, **changes: Any) -> ExpiryItem:
        """Record that AWS reported the scheduled item's old key exposed (`exposed_at` among `changes`),
        once: only while the item is as it was read (state and expires_at, so a destructor's put-back in
        between is never overwritten) and no exposure is recorded; LeaseConflict (with the item found)
        otherwise. The one writer that succeeds is the handling that tells people."""
        return self._put_if(
            item,
            item.model_copy(update=changes),
            "#s = :s AND #e = :e AND attribute_not_exists(exposed_at)",
            {":s": {"S": item.state.value}, ":e": {"N": str(item.expires_at)}},
            **{"#e": TTL_ATTRIBUTE},
        )

    def end_lease(self, item: ExpiryItem, ended_at: int) -> ExpiryItem:
        """An operator's word that the lease holder is dead: the next run resumes or undoes at once."""
        return self.take_over(item, item.run_id or "", ended_at)

    _owned = "#s = :s AND run_id = :o"

    @staticmethod
    def _owner_values(item: ExpiryItem) -> dict[str, Any]:
        return {":s": {"S": item.state.value}, ":o": {"S": item.run_id or ""}}

    def _conditional(self, item: ExpiryItem, operation: str, write: Any) -> None:
        try:
            with self._call(operation, item):
                write()
        except AwsConditionFailed:
            raise LeaseConflict(item, self.get(item.account_id, item.item_key)) from None

    def remove(self, item: ExpiryItem) -> None:
        """Remove an item whatever its state, as TTL would (tests, hand repair)."""
        with self._call("DeleteItem", item):
            self._db.delete_item(TableName=self.name, Key=self._key(item))

    def add(self, item: ExpiryItem) -> bool:
        """Write `item` only where nothing is (an import); False when its key is taken already."""
        try:
            with self._call("PutItem", item):
                self._db.put_item(
                    TableName=self.name, Item=item.to_item(), ConditionExpression="attribute_not_exists(item_key)"
                )
        except AwsConditionFailed:
            return False
        return True

    def put(self, item: ExpiryItem) -> None:
        with self._call("PutItem", item):
            self._db.put_item(TableName=self.name, Item=item.to_item())

    def _key(self, item: ExpiryItem, suffix: str = "") -> dict[str, Any]:
        return {"account_id": {"S": item.account_id}, "item_key": {"S": item.item_key + suffix}}
