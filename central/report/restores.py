"""The report's view of `ikr restore` (issue 18.4): a `restored` entry on the old key's pending row, a
line per restore under the table, a `restored` CSV column and a mark in the HTML pending cell. Each
shows only when some key was restored, so a report without restores is byte-for-byte as before."""

from __future__ import annotations

from html import escape

from central.aws.expiry_item import ExpiryItem, from_epoch
from central.report.rows import PendingRow, Report, ReportRow, RestoreRow

CSV_COLUMN = "restored"


def restore_row(item: ExpiryItem) -> RestoreRow | None:
    restored = item.restored
    if restored is None:
        return None
    return RestoreRow(
        at=from_epoch(restored.at),
        by=restored.by,
        reason=restored.reason,
        until=from_epoch(restored.until),
        forced=restored.forced,
    )


def _words(pending: PendingRow) -> str:
    restored = pending.restored
    assert restored is not None
    why = f" ({restored.reason})" if restored.reason else ""
    forced = " with --force" if restored.forced else ""
    return (
        f"{pending.old_key_id} restored {restored.at:%Y-%m-%d %H:%M} UTC by {restored.by}{forced}{why}; "
        f"retired again from {restored.until:%Y-%m-%d %H:%M} UTC"
    )


def any_restored(report: Report) -> bool:
    return any(pending.restored for row in report.rows for pending in row.pending)


def restore_lines(report: Report) -> list[str]:
    """Under the terminal table: one line per restored old key."""
    return [
        f"restore: account {row.account_id} user {row.user}: {_words(pending)}"
        for row in report.rows
        for pending in row.pending
        if pending.restored is not None
    ]


def restore_cell(row: ReportRow) -> str:
    return "; ".join(_words(pending) for pending in row.pending if pending.restored is not None)


def restore_html(pending: PendingRow) -> str:
    """What the HTML pending cell adds for a restored old key ("" for any other)."""
    return f" <mark>{escape(_words(pending).split(' ', 1)[1])}</mark>" if pending.restored is not None else ""
