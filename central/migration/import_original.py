"""`ikr import-original`: take over the pending deletions of aws-iam-key-rotator (the original tool).

A user the original rotated has two keys and an item in its table: the old key `ak`, deleted at
`delete_on`. Without that item ikr would skip the user for ever (two keys) and the old key would
never go. Each item becomes an ikr expiry item, `scheduled` with the same deletion time, so ikr's
sweep and destructor delete that key at that time and not before (and, like the original, the
user's Fernet key parameter only when the original's `delete_enc_key` is "Y").

Safe to repeat: an old key ikr already has (imported, or already handled by its destructor) is left
as it is. Nothing is written to the original's table. A key that no longer exists is reported and
not imported: there is nothing left to delete.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from central.aws.errors import AwsNotFound, reason_of
from central.aws.expiry_item import ExpiryItem, Imported, State, epoch, from_epoch
from central.aws.expiry_table import ExpiryTable
from central.aws.iam import IamAccount
from central.aws.original_table import OriginalItem, UnreadableItem
from central.aws.ssm_secrets import parameter_name
from central.domain.errors import IkrError
from central.domain.model import AccessKey


class Taken(StrEnum):
    IMPORTED = "imported"
    WOULD_IMPORT = "would-import"  # --dry-run
    ALREADY = "already"  # ikr's table has this old key already: nothing written
    KEY_GONE = "key-gone"  # the old key (or its user) no longer exists: nothing to delete
    UNREADABLE = "unreadable"  # the original's item lacks a field or holds a value ikr cannot use
    FAILED = "failed"  # an AWS call failed for this user; a rerun picks it up


_PROBLEMS = (Taken.UNREADABLE, Taken.FAILED)


@dataclass(frozen=True)
class ImportLine:
    taken: Taken
    user: str
    key_id: str
    detail: str

    @property
    def problem(self) -> bool:
        return self.taken in _PROBLEMS


@dataclass(frozen=True)
class ImportResult:
    account_id: str
    table: str
    lines: tuple[ImportLine, ...]

    def count(self, taken: Taken) -> int:
        return sum(line.taken is taken for line in self.lines)

    @property
    def failed(self) -> bool:
        return any(line.problem for line in self.lines)


def import_original(
    items: Iterable[OriginalItem | UnreadableItem],
    source_table: str,
    account_id: str,
    iam: IamAccount,
    table: ExpiryTable,
    now: datetime,
    dry_run: bool = False,
) -> ImportResult:
    """Every item of the original's table (`items`, keys of account `account_id`) into ikr's `table`."""
    lines: list[ImportLine] = []
    for item in sorted(items, key=lambda each: (each.user, each.ak)):
        if isinstance(item, UnreadableItem):
            lines.append(ImportLine(Taken.UNREADABLE, item.user, item.ak, f"not imported: {item.reason}"))
            continue
        try:
            lines.append(_take_over(item, source_table, account_id, iam, table, now, dry_run))
        except IkrError as exc:
            lines.append(ImportLine(Taken.FAILED, item.user, item.ak, f"not imported: {reason_of(exc)}"))
    return ImportResult(account_id=account_id, table=source_table, lines=tuple(lines))


def _take_over(
    item: OriginalItem,
    source_table: str,
    account_id: str,
    iam: IamAccount,
    table: ExpiryTable,
    now: datetime,
    dry_run: bool,
) -> ImportLine:
    def line(taken: Taken, detail: str) -> ImportLine:
        return ImportLine(taken, item.user, item.ak, detail)

    try:
        keys = iam.access_keys(item.user)
    except AwsNotFound:
        return line(Taken.KEY_GONE, f"user {item.user} no longer exists; nothing to delete")
    if not any(key.key_id == item.ak for key in keys):
        return line(Taken.KEY_GONE, f"old key {item.ak} no longer exists; nothing to delete")
    if any(known.old_key_id == item.ak for known in table.for_user(account_id, item.user)):
        return line(Taken.ALREADY, f"old key {item.ak} is in ikr's table already; left as it is")
    imported = _expiry_item(item, source_table, account_id, keys, now)
    detail = _fate(item, now)
    if dry_run:
        return line(Taken.WOULD_IMPORT, f"would take over: {detail}")
    if not table.add(imported):
        return line(Taken.ALREADY, f"old key {item.ak} is in ikr's table already (handled); left as it is")
    return line(Taken.IMPORTED, detail)


def _expiry_item(
    item: OriginalItem, source_table: str, account_id: str, keys: tuple[AccessKey, ...], now: datetime
) -> ExpiryItem:
    # The original recorded no new key; the user's other key is the one it made and mailed then, so its
    # creation is when the rotation happened (a use of the old key after it earns the usual reminder).
    others = [key for key in keys if key.key_id != item.ak]
    new = others[0] if len(others) == 1 else None
    return ExpiryItem(
        account_id=account_id,
        user_name=item.user,
        old_key_id=item.ak,
        state=State.SCHEDULED,
        started_at=epoch(new.created) if new is not None else epoch(now),
        email=item.email,
        new_key_id=new.key_id if new is not None else None,
        expires_at=item.delete_on,
        delete_at=item.delete_on,  # the deletion time the original's mail announced
        imported=Imported(table=source_table, delete_enc_key=item.fernet_key_goes, at=epoch(now)),
    )


def _fate(item: OriginalItem, now: datetime) -> str:
    when = from_epoch(item.delete_on)
    due = f"old key {item.ak} deleted at {when:%Y-%m-%d %H:%M} UTC"
    if when <= now:
        due += " (due already: the next `ikr rotate` sweeps it to the destructor)"
    parameter = parameter_name(item.user)
    fernet = (
        f"its Fernet key parameter {parameter} with it"
        if item.fernet_key_goes
        else f"its Fernet key parameter {parameter}, if any, kept (delete_enc_key N)"
    )
    return f"{due}; {fernet}"


def summary(result: ImportResult, dry_run: bool) -> str:
    done = Taken.WOULD_IMPORT if dry_run else Taken.IMPORTED
    verb = "would be taken over" if dry_run else "taken over"
    return (
        f"import-original: table {result.table}, account {result.account_id}: {result.count(done)} pending deletion(s) "
        f"{verb}, {result.count(Taken.ALREADY)} already in ikr's table, {result.count(Taken.KEY_GONE)} with the key "
        f"gone, {result.count(Taken.UNREADABLE) + result.count(Taken.FAILED)} not imported"
    )


Echo = Callable[[str], None]


def print_result(result: ImportResult, dry_run: bool, echo: Echo) -> None:
    width = max((len(line.user) for line in result.lines), default=0)
    for line in result.lines:
        mark = "!" if line.problem else " "
        echo(f"{mark} {line.taken.value:<12} {line.user:<{width}}  {line.detail}")
    echo(summary(result, dry_run))
