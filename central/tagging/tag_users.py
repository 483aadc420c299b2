"""`ikr tag-users FILE`: apply a JSON file of users → tags, checked as a whole before any call.

The file is the original tool's `iam-user-tags.json` shape, `{"<user>": {"<tag key>": "<value>"}}`,
or the same grouped by account id, `{"<12-digit account id>": {"<user>": {...}}}`. Which one is
told by the nesting alone (tag values are strings, users are objects), never by the look of a key:
a user named `123456789012` is a user. An empty object is a file with no users.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from central.aws.errors import reason_of
from central.domain import tags as t
from central.domain.delivery import DEFAULT_PREFIX
from central.domain.errors import IkrError, UsageError
from central.domain.model import Frozen
from central.domain.policy import read_user_tags
from central.domain.scope import Days
from central.domain.sources import Source

_ACCOUNT = re.compile(r"[0-9]{12}")
_USER = re.compile(r"[\w+=,.@-]{1,64}", re.ASCII)
_TAG_PUNCTUATION = frozenset("_.:/=+-@")


def _iam_tag_text(text: str) -> bool:
    """IAM's tag pattern [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*: letters, separators, numbers, a few marks."""
    return all(ch in _TAG_PUNCTUATION or unicodedata.category(ch)[0] in "LZN" for ch in text)


_MAX_TAGS_PER_USER = 50


class UserTagger(Protocol):
    """IAM of one account, as far as tagging goes (`central.aws.iam.IamAccount`)."""

    def tag_user(self, user_name: str, tags: Sequence[tuple[str, str]]) -> None: ...


class UserTags(Frozen):
    account_id: str | None  # None: the caller's own account
    user: str
    tags: tuple[tuple[str, str], ...]


def load(path: Path, delivery_prefix: str = DEFAULT_PREFIX) -> list[UserTags]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path}: not valid JSON ({exc})") from None
    return parse(data, str(path), delivery_prefix)


def parse(data: Any, source: str, delivery_prefix: str = DEFAULT_PREFIX) -> list[UserTags]:
    """Every problem in the file at once, each with its place, so one edit fixes them all. IKR: tags
    are judged as the scan judges them (IKR:DELIVERY against DELIVERY_PREFIX), before any is applied."""
    problems: list[str] = []
    entries: list[UserTags] = []
    if not isinstance(data, dict):
        raise UsageError(f"{source}: expected a JSON object of users (or of account ids), got {type(data).__name__}")
    if not data:
        return []  # the original's empty file: "no users in the file", nothing to do
    groups: list[tuple[str | None, Any]] = list(data.items()) if _grouped(data) else [(None, data)]
    for account_id, users in groups:
        where = f"{source}: account {account_id}" if account_id else source
        if not isinstance(users, dict):
            problems.append(f"{where}: expected an object of users")
            continue
        for user, tags in users.items():
            entry = _entry(account_id, user, tags, f"{where}: user {user!r}", problems, delivery_prefix)
            if entry is not None:
                entries.append(entry)
    if problems:
        raise UsageError("nothing was tagged; fix the file first:\n  " + "\n  ".join(problems))
    return entries


def _grouped(data: dict[str, Any]) -> bool:
    """ikr's multi-account shape, said by its nesting: every key an account id, no value an object of
    tags (one holding a string) and some value an object of users (objects of tags). In the original's
    shape a user's tags map to strings, so all-digit user names (employee numbers, twelve digits
    included) stay user names."""

    def users(value: Any) -> bool:
        return isinstance(value, dict) and bool(value) and all(isinstance(tags, dict) for tags in value.values())

    def tags(value: Any) -> bool:
        return isinstance(value, dict) and any(not isinstance(each, dict) for each in value.values())

    values = list(data.values())
    return (
        all(_ACCOUNT.fullmatch(key) for key in data)
        and not any(tags(value) for value in values)
        and any(users(value) for value in values)
    )


def _entry(
    account_id: str | None, user: str, tags: Any, where: str, problems: list[str], delivery_prefix: str
) -> UserTags | None:
    before = len(problems)
    if not _USER.fullmatch(user):
        problems.append(f"{where}: not a valid IAM user name")
    if not isinstance(tags, dict) or not tags:
        problems.append(f"{where}: expected a non-empty object of tag keys to string values")
        return None
    if len(tags) > _MAX_TAGS_PER_USER:
        problems.append(f"{where}: {len(tags)} tags; IAM allows {_MAX_TAGS_PER_USER} per user")
    for key, value in tags.items():
        if not isinstance(value, str):
            problems.append(f"{where}: tag {key}: value must be a string, got {json.dumps(value)}")
            continue
        if not (0 < len(key) <= 128 and _iam_tag_text(key)):
            problems.append(f"{where}: tag key {key!r} is not a valid IAM tag key")
        if not _iam_tag_text(value):
            problems.append(
                f"{where}: tag {key}: value {value!r} holds characters IAM refuses in tags "
                "(allowed: letters, digits, spaces and _ . : / = + - @)"
            )
        if len(value) > 256:
            problems.append(f"{where}: tag {key}: value has {len(value)} characters; IAM allows 256")
    problems.extend(f"{where}: {problem}" for problem in _ikr_value_problems(tags, delivery_prefix))
    ikr_keys = [key.upper() for key in tags if key.upper().startswith(t.PREFIX)]
    if len(ikr_keys) != len(set(ikr_keys)):
        problems.append(f"{where}: the same IKR: tag key is given twice in different cases")
    if len(problems) > before:
        return None
    return UserTags(account_id=account_id, user=user, tags=tuple((k, v) for k, v in tags.items()))


def _ikr_value_problems(tags: dict[str, Any], delivery_prefix: str) -> list[str]:
    """What the scan would say of these tags (central.domain.policy.read_user_tags): a value it refuses,
    an IKR: key it does not read, a malformed IKR:INSTRUCTION_<N>."""
    values = {key.upper(): value for key, value in tags.items() if key.upper().startswith(t.PREFIX)}
    if not values or not all(isinstance(value, str) for value in values.values()):
        return []  # no IKR: tag, or a value that is not a string (already reported)
    unset = Days(days=1, source=Source.unset())
    read = read_user_tags(values, unset, unset, delivery_prefix)
    return [*(str(problem) for problem in read.problems), *read.warnings]


def apply(
    entries: list[UserTags], iam_for: Callable[[str | None], UserTagger], dry_run: bool, echo: Callable[[str], None]
) -> int:
    """Tag every user; returns how many failed. One user's failure does not stop the others."""
    failures = 0
    for entry in entries:
        where = f"{entry.account_id or 'this account'}: {entry.user}"
        listed = ", ".join(f"{key}={value}" for key, value in entry.tags)
        if dry_run:
            echo(f"would tag {where}: {listed}")
            continue
        try:
            iam_for(entry.account_id).tag_user(entry.user, entry.tags)
            echo(f"tagged {where}: {listed}")
        except IkrError as exc:
            failures += 1
            echo(f"FAILED {where}: {reason_of(exc)}")
    return failures
