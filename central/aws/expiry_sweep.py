"""The expiry table's sweep: scheduled items whose time has passed removed as TTL would (TTL may lag
by days), each removal firing the stream REMOVE record the destructor acts on; expired tombstones
dropped on the way. The retry run hands a due retry to the destructor the same way (`remove_expired`).
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from central.aws.errors import AwsConditionFailed, aws_call
from central.aws.expiry_item import TTL_ATTRIBUTE, ExpiryItem, State, epoch, is_tombstone, valid_item
from central.aws.expiry_table_part import TablePart


class TableSweep(TablePart):
    """What `ExpiryTable` removes when its time has passed."""

    def sweep(self, now: datetime) -> list[ExpiryItem]:
        """Remove scheduled items whose time has passed, as TTL would (TTL may lag by days).

        The removal time is written first, so a destructor with another clock still sees the item
        as expired when the sweep ran. Tombstones past their time go too (not returned: nothing
        is left to do for them; the destructor ignores their removal).
        """
        with self._call("Scan"):
            return self._sweep(epoch(now))

    def _sweep(self, cutoff: int) -> list[ExpiryItem]:
        removed: list[ExpiryItem] = []
        paginator = self._db.get_paginator("scan")
        pages = paginator.paginate(
            TableName=self.name,
            FilterExpression="(#s = :scheduled OR #s = :retired) AND #e <= :now",
            ExpressionAttributeNames={"#s": "state", "#e": TTL_ATTRIBUTE},
            ExpressionAttributeValues={
                ":scheduled": {"S": State.SCHEDULED.value},
                ":retired": {"S": State.RETIRED.value},
                ":now": {"N": str(cutoff)},
            },
            ConsistentRead=True,
        )
        for page in pages:
            for raw in page["Items"]:
                if is_tombstone(raw):
                    self._drop_tombstone(raw, cutoff)
                    continue
                item = valid_item(raw)
                if item is not None and self._remove_swept(item, cutoff):
                    removed.append(item)
        return removed

    def remove_expired(self, item: ExpiryItem, now: datetime) -> bool:
        """Remove one scheduled item whose time has passed, as the sweep does (the retry run's way of
        handing a due retry to the destructor); False when TTL or another run got there first."""
        return self._remove_swept(item, epoch(now))

    def _remove_swept(self, item: ExpiryItem, cutoff: int) -> bool:
        try:
            with self._call("UpdateItem", item):
                self._mark_and_remove(item, cutoff)
        except AwsConditionFailed:
            return False  # TTL or another run removed or changed it first
        return True

    def _mark_and_remove(self, item: ExpiryItem, cutoff: int) -> None:
        self._db.update_item(
            TableName=self.name,
            Key=self._key(item),
            UpdateExpression="SET swept_at = :now",
            ConditionExpression="#s = :scheduled AND #e <= :now",
            ExpressionAttributeNames={"#s": "state", "#e": TTL_ATTRIBUTE},
            ExpressionAttributeValues={":scheduled": {"S": State.SCHEDULED.value}, ":now": {"N": str(cutoff)}},
        )
        self._db.delete_item(
            TableName=self.name,
            Key=self._key(item),
            ConditionExpression="swept_at = :now",
            ExpressionAttributeValues={":now": {"N": str(cutoff)}},
        )

    def _drop_tombstone(self, raw: dict[str, Any], cutoff: int) -> None:
        with contextlib.suppress(AwsConditionFailed), aws_call("dynamodb:DeleteItem", f"table {self.name} tombstone"):
            self._db.delete_item(
                TableName=self.name,
                Key={"account_id": raw["account_id"], "item_key": raw["item_key"]},
                ConditionExpression="#s = :retired AND #e <= :now",
                ExpressionAttributeNames={"#s": "state", "#e": TTL_ATTRIBUTE},
                ExpressionAttributeValues={":retired": {"S": State.RETIRED.value}, ":now": {"N": str(cutoff)}},
            )
