"""The table of aws-iam-key-rotator (the original tool), read for the switch to ikr and never written.

Its shape, from its Terraform and `creator.py` (v3.6): hash key `user`, range key `ak` (the old access
key id), attributes `email`, `delete_on` (epoch seconds, DynamoDB TTL: midnight UTC of the rotation
day plus DELETE_AFTER_DAYS) and `delete_enc_key` ("Y": its destructor deleted the user's Fernet key
parameter with the old key). Its destructor deletes the key when TTL removes the item.

ikr's own expiry table has another key (`account_id`, `item_key`): a command pointed at the
original's table by IAM_KEY_ROTATOR_TABLE is refused here, by name, before any item is read or
written (a DynamoDB ValidationException is what the user would otherwise see).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from central.aws.errors import aws_call
from central.domain.bounds import MAX_EPOCH
from central.domain.errors import SettingsError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

DEFAULT_NAME = "iam-key-rotator"  # the original's Terraform default (`table_name`)
IMPORT_COMMAND = "ikr import-original --table {table}"

_IKR_KEYS = {"account_id": "HASH", "item_key": "RANGE"}
_ORIGINAL_KEYS = {"user": "HASH", "ak": "RANGE"}
_deserializer = TypeDeserializer()


def _key_schema(table: Mapping[str, Any]) -> dict[str, str]:
    return {str(part["AttributeName"]): str(part["KeyType"]) for part in table.get("KeySchema", [])}


def is_original(table: Mapping[str, Any]) -> bool:
    """`table`: DescribeTable's `Table`."""
    return _key_schema(table) == _ORIGINAL_KEYS


def refuse_foreign_schema(name: str, table: Mapping[str, Any]) -> None:
    """SettingsError (exit code 2) unless `table` has ikr's expiry table key; names the table, the
    variable and, for the original's table, the import command."""
    keys = _key_schema(table)
    if keys == _IKR_KEYS:
        return
    if keys == _ORIGINAL_KEYS:
        raise SettingsError(
            f"table {name} (IAM_KEY_ROTATOR_TABLE) is aws-iam-key-rotator's table (key user, ak), not ikr's "
            "expiry table; nothing in it was read or changed. Set IAM_KEY_ROTATOR_TABLE to ikr's own table "
            "(`ikr bootstrap` creates it, default ikr-expiry), then take over the original's pending deletions "
            f"with `{IMPORT_COMMAND.format(table=name)}`"
        )
    shown = ", ".join(f"{attribute} ({kind})" for attribute, kind in keys.items()) or "none"
    raise SettingsError(
        f"table {name} (IAM_KEY_ROTATOR_TABLE) is not an ikr expiry table: its key is {shown}, ikr's is "
        "account_id (HASH), item_key (RANGE); nothing in it was read or changed. Point IAM_KEY_ROTATOR_TABLE "
        "at ikr's table (`ikr bootstrap` creates it)"
    )


class OriginalItem(BaseModel):
    """One pending deletion of the original: the old key `ak` of `user`, deleted at `delete_on`."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    user: str = Field(min_length=1, max_length=64)
    ak: str = Field(min_length=16, max_length=128)
    email: str | None = None
    delete_on: int = Field(ge=0, le=MAX_EPOCH)
    delete_enc_key: str = Field(pattern=r"^[YN]$")

    @property
    def fernet_key_goes(self) -> bool:
        """The original's rule: its destructor removed `/ikr/secret/iam/<user>` only for "Y"."""
        return self.delete_enc_key == "Y"


class UnreadableItem(BaseModel):
    """An item the import cannot use, with what is wrong; its key as far as it has one."""

    model_config = ConfigDict(frozen=True)

    user: str
    ak: str
    reason: str


class OriginalTable:
    """Reads only: DescribeTable and Scan."""

    def __init__(self, dynamodb: DynamoDBClient, name: str) -> None:
        self._db = dynamodb
        self.name = name

    def check(self) -> None:
        """SettingsError when the table is missing or is not of the original's shape."""
        with aws_call("dynamodb:DescribeTable", f"table {self.name}"):
            try:
                table = self._db.describe_table(TableName=self.name)["Table"]
            except self._db.exceptions.ResourceNotFoundException:
                raise SettingsError(
                    f"--table {self.name}: no such table in this account and region (the original's default "
                    f"name is {DEFAULT_NAME}; its Terraform variable `table_name`)"
                ) from None
        if not is_original(table):
            raise SettingsError(
                f"--table {self.name}: not aws-iam-key-rotator's table (its key is user, ak; this one's is "
                f"{', '.join(_key_schema(table)) or 'none'})"
            )

    def items(self) -> Iterator[OriginalItem | UnreadableItem]:
        with aws_call("dynamodb:Scan", f"table {self.name}"):
            for page in self._db.get_paginator("scan").paginate(TableName=self.name, ConsistentRead=True):
                for raw in page["Items"]:
                    yield read_item(raw)


def read_item(raw: dict[str, Any]) -> OriginalItem | UnreadableItem:
    """One item of the original's table, in DynamoDB's typed form."""
    plain = {key: _deserializer.deserialize(value) for key, value in raw.items()}
    delete_on = plain.get("delete_on")
    if isinstance(delete_on, Decimal) and delete_on == delete_on.to_integral_value():
        plain["delete_on"] = int(delete_on)
    try:
        return OriginalItem.model_validate(plain)
    except ValidationError as exc:
        reason = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors(include_url=False, include_input=False)
        )
        return UnreadableItem(user=str(plain.get("user", "?")), ak=str(plain.get("ak", "?")), reason=reason)
