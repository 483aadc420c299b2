"""Domain records shared by the pure policy and the AWS adapters (no boto3 here)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class KeyStatus(StrEnum):
    ACTIVE = "Active"
    INACTIVE = "Inactive"


class AccessKey(Frozen):
    key_id: str
    status: KeyStatus
    created: datetime


class Tag(Frozen):
    key: str
    value: str


class IamUser(Frozen):
    name: str
    arn: str
    tags: tuple[Tag, ...] = ()
    keys: tuple[AccessKey, ...] = ()


class OrgUnit(Frozen):
    """A root or OU on an account's path, nearest last."""

    id: str
    name: str
    tags: tuple[Tag, ...] = ()


class LevelKind(StrEnum):
    ACCOUNT = "account"
    OU = "ou"
    ROOT = "root"


class Level(Frozen):
    """One scope of the tag chain an account inherits from: the account itself, an OU above it, the root."""

    kind: LevelKind
    id: str
    name: str = ""  # a root is named by its id alone

    def __str__(self) -> str:
        if self.kind is LevelKind.ROOT:
            return f"root {self.id}"
        word = "account" if self.kind is LevelKind.ACCOUNT else "OU"
        return f"{word} {self.id} ({self.name})"


class Account(Frozen):
    id: str
    name: str
    tags: tuple[Tag, ...] = ()
    path: tuple[OrgUnit, ...] = ()  # root first, the account's own parent last
    # Its Organizations `State` (central.domain.account_state): ACTIVE, or a state ikr does not know.
    state: str = "ACTIVE"
    # The Organization's management account: StackSets never deploy the member role there, so ikr may
    # find no role to enter (`ikr deploy --management-account` puts one there).
    management: bool = False

    @property
    def ou_path(self) -> str:
        return "/".join(unit.name for unit in self.path)


def json_kind(value: object) -> str:
    """What a JSON value is, in words, for a message about a record that is not a map."""
    kinds = {type(None): "null", bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list"}
    return kinds.get(type(value), type(value).__name__)
