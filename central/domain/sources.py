"""Where an account's policy came from, as values: the source of a number of days, the reason an
account is (not) managed.

The domain hands these on; the edges (report rows, `ikr explain`, `ikr plan`, logs, mail) render them
with `str()`, which gives the exact sentences ikr has always printed. Consumers read the fields and
never parse the text back.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from pydantic import model_validator

from central.domain.model import Frozen, Level
from central.domain.tags import ENABLED


class SourceKind(StrEnum):
    SETTING = "setting"  # ROTATE_AFTER_DAYS / DELETE_AFTER_DAYS in the environment
    USER_TAG = "user-tag"
    LEVEL_TAG = "level-tag"  # a tag of the account, an OU or the root: `level` says which
    UNSET = "unset"  # a placeholder where no value is read (`ikr tag-users` checking tags alone)


class Source(Frozen):
    """Where a number of days came from: a setting, the user's tag, or a tag of one level of the Organization."""

    kind: SourceKind
    key: str = ""  # the tag key (IKR:...) or the setting's name
    level: Level | None = None  # set exactly for LEVEL_TAG

    @model_validator(mode="after")
    def _level_for_level_tags(self) -> Self:
        if (self.level is not None) != (self.kind is SourceKind.LEVEL_TAG):
            raise ValueError(f"a {self.kind.value} source has a level exactly when it is a level's tag")
        return self

    @classmethod
    def setting(cls, name: str) -> Source:
        return cls(kind=SourceKind.SETTING, key=name)

    @classmethod
    def user_tag(cls, key: str) -> Source:
        return cls(kind=SourceKind.USER_TAG, key=key)

    @classmethod
    def tag(cls, level: Level, key: str) -> Source:
        return cls(kind=SourceKind.LEVEL_TAG, key=key, level=level)

    @classmethod
    def unset(cls) -> Source:
        return cls(kind=SourceKind.UNSET)

    def __str__(self) -> str:
        if self.kind is SourceKind.SETTING:
            return f"setting {self.key}"
        if self.kind is SourceKind.USER_TAG:
            return "user tag"  # the row or step already names the user and the key
        if self.kind is SourceKind.UNSET:
            return "unset"
        return f"{self.level} tag {self.key}"


class OptInReason(StrEnum):
    TAG = "tag"  # the nearest IKR:ENABLED said true or false
    INVALID_TAG = "invalid-tag"  # the nearest IKR:ENABLED is neither: not managed (and the account is blocked)
    NO_TAG = "no-tag"  # no IKR:ENABLED on the account or any parent: not managed
    STANDALONE = "standalone"  # no Organization: the caller's own account, always managed


class OptIn(Frozen):
    """Whether ikr manages an account, and why."""

    managed: bool
    reason: OptInReason
    level: Level | None = None  # whose IKR:ENABLED decided: set exactly for TAG and INVALID_TAG

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        by_tag = self.reason in (OptInReason.TAG, OptInReason.INVALID_TAG)
        if (self.level is not None) != by_tag:
            raise ValueError(f"an opt-in by {self.reason.value} names a level exactly when a tag decided")
        if self.reason is not OptInReason.TAG and self.managed != (self.reason is OptInReason.STANDALONE):
            raise ValueError(f"an opt-in by {self.reason.value} cannot have managed={self.managed}")
        return self

    @classmethod
    def by_tag(cls, level: Level, managed: bool) -> OptIn:
        return cls(managed=managed, reason=OptInReason.TAG, level=level)

    @classmethod
    def invalid_tag(cls, level: Level) -> OptIn:
        return cls(managed=False, reason=OptInReason.INVALID_TAG, level=level)

    @classmethod
    def no_tag(cls) -> OptIn:
        return cls(managed=False, reason=OptInReason.NO_TAG)

    @classmethod
    def standalone(cls) -> OptIn:
        return cls(managed=True, reason=OptInReason.STANDALONE)

    def __str__(self) -> str:
        if self.reason is OptInReason.TAG:
            return f"{self.level} tag {ENABLED}"
        if self.reason is OptInReason.INVALID_TAG:
            return f"{self.level} tag {ENABLED} is invalid"
        if self.reason is OptInReason.NO_TAG:
            return f"no {ENABLED} tag on the account or any parent"
        return "standalone account (no Organization)"
