"""Small builders for the pure domain records, so each test states only what it is about."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

from central.domain.model import AccessKey, Account, IamUser, KeyStatus, Level, LevelKind, OrgUnit, Tag
from central.domain.scope import AccountScope, Days
from central.domain.sources import OptIn, Source

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
ROOT_ID = "r-ab12"
ACCOUNT_ID = "111122223333"
ACCOUNT_NAME = "payments"

TagsLike = Mapping[str, str] | Iterable[tuple[str, str]]


def tags(given: TagsLike = ()) -> tuple[Tag, ...]:
    """Tags from a mapping or from (key, value) pairs; pairs allow one key twice."""
    pairs = given.items() if isinstance(given, Mapping) else given
    return tuple(Tag(key=key, value=value) for key, value in pairs)


def key(
    key_id: str = "AKIAOLD0000000000001",
    age_days: float = 10,
    status: KeyStatus = KeyStatus.ACTIVE,
    now: datetime = NOW,
) -> AccessKey:
    """An access key created `age_days` before `now`."""
    return AccessKey(key_id=key_id, status=status, created=now - timedelta(days=age_days))


def user(
    *keys: AccessKey,
    name: str = "alice",
    email: str | None = "alice@example.com",
    extra: TagsLike = (),
) -> IamUser:
    """A managed IAM user: IKR:EMAIL (unless email=None) plus any extra tags, and the given keys."""
    pairs: list[tuple[str, str]] = [] if email is None else [("IKR:EMAIL", email)]
    pairs.extend(extra.items() if isinstance(extra, Mapping) else extra)
    return IamUser(
        name=name,
        arn=f"arn:aws:iam::{ACCOUNT_ID}:user/{name}",
        tags=tags(pairs),
        keys=keys,
    )


def root(given: TagsLike = (), root_id: str = ROOT_ID) -> OrgUnit:
    return OrgUnit(id=root_id, name="Root", tags=tags(given))


def ou(ou_id: str, name: str, given: TagsLike = ()) -> OrgUnit:
    return OrgUnit(id=ou_id, name=name, tags=tags(given))


def account(
    given: TagsLike = (),
    path: tuple[OrgUnit, ...] = (),
    account_id: str = ACCOUNT_ID,
    name: str = ACCOUNT_NAME,
) -> Account:
    """An account; `path` is root first, the account's own parent last."""
    return Account(id=account_id, name=name, tags=tags(given), path=path)


SETTING_ROTATE = Source.setting("ROTATE_AFTER_DAYS")
SETTING_DELETE = Source.setting("DELETE_AFTER_DAYS")


def account_scope(
    rotate: int = 90,
    delete: int = 7,
    rotate_source: Source = SETTING_ROTATE,
    delete_source: Source = SETTING_DELETE,
) -> AccountScope:
    """An enabled account's inherited policy, built directly (policy tests need not walk scopes)."""
    return AccountScope(
        account=account({"IKR:ENABLED": "true"}),
        opt_in=OptIn.by_tag(Level(kind=LevelKind.ACCOUNT, id=ACCOUNT_ID, name=ACCOUNT_NAME), managed=True),
        rotate_after=Days(days=rotate, source=rotate_source),
        delete_after=Days(days=delete, source=delete_source),
    )
