"""What an account inherits from the Organization: opt-in and default days, nearest scope wins.

Order, nearest first: the account's own tags, its parent OU, that OU's parent, ..., the root,
then the settings. Pure: the organization walk hands in the tags.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import Field

from central.domain import tags as t
from central.domain.model import Account, Frozen, Tag


class Days(Frozen):
    """A number of days and where it came from, so `explain` and the report can say why."""

    days: int = Field(ge=1, le=t.MAX_DAYS)  # also bounds an account message's days (datetime arithmetic)
    source: str


@dataclass(frozen=True)
class _Scope:
    label: str
    tags: tuple[Tag, ...]


@dataclass
class AccountScope:
    account: Account
    enabled: bool
    enabled_source: str
    rotate_after: Days
    delete_after: Days
    problems: list[str] = field(default_factory=list)


def _scopes(account: Account) -> list[_Scope]:
    nearest_first = [_Scope(f"account {account.id} ({account.name})", account.tags)]
    for depth, unit in enumerate(reversed(account.path)):
        is_root = depth == len(account.path) - 1 and unit.id.startswith("r-")
        label = f"root {unit.id}" if is_root else f"OU {unit.id} ({unit.name})"
        nearest_first.append(_Scope(label, unit.tags))
    return nearest_first


def resolve(account: Account, rotate_default: int, delete_default: int, standalone: bool = False) -> AccountScope:
    """The account's inherited policy. A standalone account (no Organization) is always managed."""
    problems: list[str] = []
    enabled: bool | None = True if standalone else None
    enabled_source = (
        "standalone account (no Organization)" if standalone else "no IKR:ENABLED tag on the account or any parent"
    )
    rotate: Days | None = None
    delete: Days | None = None
    for scope in _scopes(account):
        values, duplicates = t.ikr_tags(scope.tags)
        problems.extend(f"{scope.label}: {problem}" for problem in duplicates)
        if enabled is None and t.ENABLED in values:
            try:
                enabled = t.parse_bool(t.ENABLED, values[t.ENABLED])
                enabled_source = f"{scope.label} tag {t.ENABLED}"
            except t.TagProblem as exc:
                problems.append(f"{scope.label}: {exc}")
                enabled, enabled_source = False, f"{scope.label} tag {t.ENABLED} is invalid"
        if rotate is None and t.ROTATE_AFTER_DAYS in values:
            rotate = _days(scope, t.ROTATE_AFTER_DAYS, values, problems)
        if delete is None and t.DELETE_AFTER_DAYS in values:
            delete = _days(scope, t.DELETE_AFTER_DAYS, values, problems)
    return AccountScope(
        account=account,
        enabled=bool(enabled),
        enabled_source=enabled_source,
        rotate_after=rotate or Days(days=rotate_default, source="setting ROTATE_AFTER_DAYS"),
        delete_after=delete or Days(days=delete_default, source="setting DELETE_AFTER_DAYS"),
        problems=problems,
    )


def _days(scope: _Scope, key: str, values: dict[str, str], problems: list[str]) -> Days | None:
    try:
        return Days(days=t.parse_days(key, values[key]), source=f"{scope.label} tag {key}")
    except t.TagProblem as exc:
        problems.append(f"{scope.label}: {exc}")
        return None
