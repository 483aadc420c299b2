"""`ikr restore`'s two operations on the expiry table, kept apart from the rotation journal's and the
destructor's (`central.aws.expiry_table`): the user's recently retired keys, and the restored item
written only if nothing else changed it since it was read."""

from __future__ import annotations

from typing import Any

from central.aws.errors import aws_call
from central.aws.expiry_item import TTL_ATTRIBUTE, ExpiryItem, State, is_tombstone, valid_item
from central.aws.expiry_table import ExpiryTable


class RestoreTable:
    """`ikr restore`'s two table operations, kept apart from the rotation journal's and the destructor's."""

    def __init__(self, table: ExpiryTable) -> None:
        self._table = table
        self._db = table._db

    def retired_for_user(self, account_id: str, user_name: str) -> list[ExpiryItem]:
        """The user's tombstones: old keys the destructor retired within the last TOMBSTONE_LIFE."""
        name = self._table.name
        with aws_call("dynamodb:Query", f"table {name} account {account_id} user {user_name}"):
            pages = self._db.get_paginator("query").paginate(
                TableName=name,
                KeyConditionExpression="account_id = :a AND begins_with(item_key, :p)",
                ExpressionAttributeValues={":a": {"S": account_id}, ":p": {"S": f"{user_name}#"}},
                ConsistentRead=True,
            )
            raws = [raw for page in pages for raw in page["Items"] if is_tombstone(raw)]
        return [item for item in (valid_item(raw) for raw in raws) if item is not None]

    def postpone(self, item: ExpiryItem, updated: ExpiryItem) -> None:
        """Write the restored item only if the one read is still there, unchanged in every part the
        sweep and the destructor touch (state, expires_at, swept_at, the handling's notice claim):
        one of them that got there first makes this a LeaseConflict, and the restore is refused."""
        condition = "#s = :scheduled AND #e = :e"
        values: dict[str, Any] = {":scheduled": {"S": State.SCHEDULED.value}, ":e": {"N": str(item.expires_at)}}
        names = {"#e": TTL_ATTRIBUTE}
        if item.swept_at is None:
            condition += " AND attribute_not_exists(swept_at)"
        else:
            condition += " AND swept_at = :w"
            values[":w"] = {"N": str(item.swept_at)}
        if item.handling is not None:
            condition += " AND #h.#ev = :ev"
            names.update({"#h": "handling", "#ev": "event"})
            values[":ev"] = {"S": item.handling.event}
        self._table._put_if(item, updated, condition, values, **names)
