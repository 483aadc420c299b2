"""What each part of `ExpiryTable` (its set-up, the destructor's answers, the sweep) reads of the
table and asks of it: the client, the name, one translated call, an item's key."""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from central.aws.expiry_item import ExpiryItem


class TablePart(ABC):
    _db: DynamoDBClient
    name: str

    @abstractmethod
    def _call(self, operation: str, item: ExpiryItem | None = None) -> AbstractContextManager[None]:
        """One DynamoDB call, its failures translated and named by table (and item)."""

    @abstractmethod
    def _key(self, item: ExpiryItem, suffix: str = "") -> dict[str, Any]:
        """The item's key in DynamoDB's form (`suffix`: a tombstone's kept twin)."""
