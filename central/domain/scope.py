"""What an account inherits from the Organization: opt-in and default days, nearest scope wins.

Order, nearest first: the account's own tags, its parent OU, that OU's parent, ..., the root,
then the settings. Pure: the organization walk hands in the tags. Where each value came from is kept
as a value (`central.domain.sources`), and so is each bad tag (`central.domain.problems`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import Field

from central.domain import tags as t
from central.domain.model import Account, Frozen, Level, LevelKind, Tag
from central.domain.problems import Problem
from central.domain.sources import OptIn, Source


class Days(Frozen):
    """A number of days and where it came from, so `explain` and the report can say why."""

    days: int = Field(ge=1, le=t.MAX_DAYS)  # also bounds an account message's days (datetime arithmetic)
    source: Source


@dataclass(frozen=True)
class ScopeTags:
    """One level of an account's tag chain and the tags it holds."""

    level: Level
    tags: tuple[Tag, ...]


def chain(account: Account) -> list[ScopeTags]:
    """The account, then its OUs nearest first, then the root: the order inheritance reads them."""
    nearest_first = [ScopeTags(Level(kind=LevelKind.ACCOUNT, id=account.id, name=account.name), account.tags)]
    for depth, unit in enumerate(reversed(account.path)):
        # The root's id is "r-..." (Organizations' own format); a path handed in may stop short of it.
        is_root = depth == len(account.path) - 1 and unit.id.startswith("r-")
        kind = LevelKind.ROOT if is_root else LevelKind.OU
        nearest_first.append(ScopeTags(Level(kind=kind, id=unit.id, name=unit.name), unit.tags))
    return nearest_first


@dataclass
class AccountScope:
    account: Account
    opt_in: OptIn
    rotate_after: Days
    delete_after: Days
    problems: list[Problem] = field(default_factory=list)

    @property
    def enabled(self) -> bool:
        return self.opt_in.managed

    @property
    def blocked(self) -> bool:
        """Not worked for a bad tag: a bad days tag matters where ikr works; a bad IKR:ENABLED always
        (is the account opted in or not?)."""
        return bool(self.problems) and (self.enabled or any(problem.key == t.ENABLED for problem in self.problems))


def resolve(account: Account, rotate_default: int, delete_default: int, standalone: bool = False) -> AccountScope:
    """The account's inherited policy. A standalone account (no Organization) is always managed."""
    problems: list[Problem] = []
    opt_in: OptIn | None = OptIn.standalone() if standalone else None
    rotate: Days | None = None
    delete: Days | None = None
    for scope in chain(account):
        values, duplicates = t.ikr_tags(scope.tags)
        problems.extend(problem.at(scope.level, account.id) for problem in duplicates)
        if opt_in is None and t.ENABLED in values:
            try:
                opt_in = OptIn.by_tag(scope.level, t.parse_bool(t.ENABLED, values[t.ENABLED]))
            except t.TagProblem as exc:
                problems.append(exc.problem().at(scope.level, account.id))
                opt_in = OptIn.invalid_tag(scope.level)
        if rotate is None and t.ROTATE_AFTER_DAYS in values:
            rotate = _days(scope, account.id, t.ROTATE_AFTER_DAYS, values, problems)
        if delete is None and t.DELETE_AFTER_DAYS in values:
            delete = _days(scope, account.id, t.DELETE_AFTER_DAYS, values, problems)
    return AccountScope(
        account=account,
        opt_in=opt_in or OptIn.no_tag(),
        rotate_after=rotate or Days(days=rotate_default, source=Source.setting("ROTATE_AFTER_DAYS")),
        delete_after=delete or Days(days=delete_default, source=Source.setting("DELETE_AFTER_DAYS")),
        problems=problems,
    )


def _days(scope: ScopeTags, account_id: str, key: str, values: dict[str, str], problems: list[Problem]) -> Days | None:
    try:
        return Days(days=t.parse_days(key, values[key]), source=Source.tag(scope.level, key))
    except t.TagProblem as exc:
        problems.append(exc.problem().at(scope.level, account_id))
        return None
