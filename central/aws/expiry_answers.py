"""The destructor's answers to the expiry table's stream records, written in the table itself.

Each REMOVE record is answered with one conditional write that names the record (`handling.event`):
written only where nothing is (`settle`), replaced or taken back only while it is still this record's
(`resettle`, `unsettle`), and the notices claimed once (`claim_notices`). See
`central.retirement.destroy` for the protocol; this is its storage.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from central.aws.errors import AwsConditionFailed
from central.aws.expiry_item import ExpiryItem, epoch, valid_item
from central.aws.expiry_table_part import TablePart


class TableAnswers(TablePart):
    """What `ExpiryTable` writes for the destructor: its answers to stream records."""

    def handled(self, item: ExpiryItem, suffix: str = "") -> ExpiryItem | None:
        """What is at the item's key now (a tombstone included), read consistently."""
        with self._call("GetItem", item):
            raw = self._db.get_item(TableName=self.name, Key=self._key(item, suffix), ConsistentRead=True).get("Item")
        return valid_item(raw) if raw else None

    def settle(self, item: ExpiryItem, suffix: str = "") -> bool:
        """Write the answer to a record only where nothing is; False when another write got there first."""
        record = item.to_item()
        record["item_key"] = {"S": item.item_key + suffix}
        try:
            with self._call("PutItem", item):
                self._db.put_item(
                    TableName=self.name, Item=record, ConditionExpression="attribute_not_exists(item_key)"
                )
        except AwsConditionFailed:
            return False
        return True

    def resettle(self, item: ExpiryItem, event: str) -> bool:
        """Replace this record's answer (a retry after a failed key change); False if it is not there."""
        try:
            with self._call("PutItem", item):
                self._db.put_item(TableName=self.name, Item=item.to_item(), **_answering(event))
        except AwsConditionFailed:
            return False
        return True

    def unsettle(self, item: ExpiryItem, event: str, suffix: str = "") -> None:
        """Take back this record's answer (the key stays after all); someone else's write is left."""
        with contextlib.suppress(AwsConditionFailed), self._call("DeleteItem", item):
            self._db.delete_item(TableName=self.name, Key=self._key(item, suffix), **_answering(event))

    def claim_notices(self, item: ExpiryItem, event: str, now: datetime, suffix: str = "") -> bool:
        """The one handling of a record that tells people: True for the first caller only."""
        answering = _answering(event)
        try:
            with self._call("UpdateItem", item):
                self._db.update_item(
                    TableName=self.name,
                    Key=self._key(item, suffix),
                    UpdateExpression="SET #h.#n = :now",
                    ConditionExpression=f"{answering['ConditionExpression']} AND attribute_not_exists(#h.#n)",
                    ExpressionAttributeNames={**answering["ExpressionAttributeNames"], "#n": "noticed_at"},
                    ExpressionAttributeValues={
                        **answering["ExpressionAttributeValues"],
                        ":now": {"N": str(epoch(now))},
                    },
                )
        except AwsConditionFailed:
            return False
        return True


def _answering(event: str) -> dict[str, Any]:
    """The condition that the item at the key is the answer to the stream record `event`."""
    return {
        "ConditionExpression": "#h.#ev = :event",
        "ExpressionAttributeNames": {"#h": "handling", "#ev": "event"},
        "ExpressionAttributeValues": {":event": {"S": event}},
    }
