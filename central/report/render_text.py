"""The report as a terminal table, a CSV file and JSON. Pure: a `Report` in, text out."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime

from central.report import ahead
from central.report.on_demand import on_demand_text, pending_note
from central.report.restores import CSV_COLUMN, any_restored, restore_cell, restore_lines
from central.report.rows import KeyRow, PolicyDays, Report, ReportRow, Summary

KEY_COLUMNS = 2  # IAM allows two access keys per user


def when(moment: datetime | None) -> str:
    return "" if moment is None else f"{moment:%Y-%m-%d %H:%M}"


def summary_line(report: Report) -> str:
    s: Summary = report.summary
    return (
        f"ikr report at {report.generated_at:%Y-%m-%d %H:%M} UTC: {s.accounts} account(s) "
        f"({s.opted_in} opted in, {s.not_opted_in} not opted in, {s.unreachable} unreachable"
        f"{f', {s.not_deployed} not deployed' if s.not_deployed else ''}); "
        f"{s.managed_users} managed user(s): {s.due_now} due now, {s.overdue} overdue, "
        f"{s.pending_deletions} old key(s) pending deletion; {s.unmanaged_risk} unmanaged at risk; "
        f"{s.failures} failure(s)"
    )


def _days(days: PolicyDays | None) -> str:
    return "" if days is None else f"{days.days}d {days.origin.value}"


def _key(key: KeyRow) -> str:
    used = f", used {key.last_used:%Y-%m-%d}" if key.last_used else ""
    status = "" if key.status == "Active" else f" {key.status.lower()}"
    return f"{key.key_id} {key.age_days}d{status}{used}"


def render_json(report: Report) -> str:
    return report.model_dump_json(indent=2) + "\n"


def render_table(report: Report) -> str:
    head = ("ACCOUNT", "NAME", "OU", "USER", "KIND", "KEYS", "ROTATE", "DELETE", "NEXT", "WHEN", "WHY")
    lines: list[tuple[str, ...]] = [head]
    for row in report.rows:
        mark = "!" if row.problem else ("*" if row.overdue else "")
        lines.append(
            (
                row.account_id,
                row.account_name,
                row.ou_path,
                f"{mark}{row.user or '-'}",
                row.kind.value,
                "; ".join(_key(key) for key in row.keys),
                _days(row.rotate_after),
                _days(row.delete_after),
                row.next_action,
                when(row.next_action_at),
                "; ".join([row.reason, *row.warnings]) if row.reason or row.warnings else row.account_detail,
            )
        )
    widths = [max(len(line[column]) for line in lines) for column in range(len(head) - 1)]
    text = [summary_line(report)]
    for line in lines:
        cells = [cell.ljust(width) for cell, width in zip(line, widths, strict=False)]
        text.append("  ".join([*cells, line[-1]]).rstrip())
    text.append("! needs a person (bad tag, unreachable account, deletion given up)   * overdue by more than a day")
    for account in report.accounts:
        text.extend(f"note: account {account.account_id}: {note}" for note in account.notes)
    text.extend(ahead.text_sections(report))
    text.extend(on_demand_text(report))
    text.extend(restore_lines(report))
    return "\n".join(text) + "\n"


# -- CSV --------------------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> str:
    """A spreadsheet cell: never read as a formula (user names and tag values are user input)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M:%S}"
    text = str(value)
    if isinstance(value, int | float) or not text.startswith(_FORMULA_START):
        return text
    return "'" + text


def csv_header() -> list[str]:
    keys = [
        f"key_{n}_{field}"
        for n in range(1, KEY_COLUMNS + 1)
        for field in ("id", "status", "created_utc", "age_days", "last_used_utc", "last_used_service")
    ]
    return [
        "kind",
        "account_id",
        "account_name",
        "ou_path",
        "account_state",
        "user",
        "email",
        "decision",
        "delivery",
        "verify_use",
        "next_action",
        "next_action_at_utc",
        "due_at_utc",
        "overdue",
        "problem",
        "rotate_after_days",
        "rotate_after_from",
        "rotate_after_source",
        "delete_after_days",
        "delete_after_from",
        "delete_after_source",
        *keys,
        "pending_old_keys",
        "reason",
        "warnings",
        "account_detail",
    ]


def _pending(row: ReportRow) -> str:
    return "; ".join(
        f"{item.old_key_id} {item.state}"
        + (f" deleted at {item.deletes_at:%Y-%m-%d %H:%M} UTC" if item.deletes_at else "")
        + f" ({item.attempts} attempt(s))"
        + (" waiting for the new key's first use" if item.waiting_for_use_since else "")
        + pending_note(item)
        for item in row.pending
    )


def _key_cells(keys: Sequence[KeyRow]) -> list[object]:
    cells: list[object] = []
    for n in range(KEY_COLUMNS):
        key = keys[n] if n < len(keys) else None
        if key is None:
            cells.extend([None] * 6)
        else:
            cells.extend([key.key_id, key.status, key.created, key.age_days, key.last_used, key.last_used_service])
    return cells


def csv_values(row: ReportRow) -> list[object]:
    rotate, delete = row.rotate_after, row.delete_after
    return [
        row.kind.value,
        row.account_id,
        row.account_name,
        row.ou_path,
        row.account_state.value,
        row.user,
        row.email,
        row.decision.value if row.decision else None,
        row.delivery,
        row.verify_use,
        row.next_action,
        row.next_action_at,
        row.due_at,
        row.overdue,
        row.problem,
        rotate.days if rotate else None,
        rotate.origin.value if rotate else None,
        rotate.source if rotate else None,
        delete.days if delete else None,
        delete.origin.value if delete else None,
        delete.source if delete else None,
        *_key_cells(row.keys),
        _pending(row),
        row.reason,
        "; ".join(row.warnings),
        row.account_detail,
    ]


def render_csv(report: Report) -> str:
    """One header line, then one line per report row (CRLF line ends, as RFC 4180 and spreadsheets want)."""
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_MINIMAL)
    more = ahead.csv_wanted(report)  # exemption and reminder columns, only when a row has one
    restores = any_restored(report)  # the column is there only when some key was restored
    writer.writerow([*csv_header(), *(ahead.CSV_COLUMNS if more else ()), *([CSV_COLUMN] if restores else [])])
    for row in report.rows:
        values = [
            *csv_values(row),
            *(ahead.csv_values(row) if more else ()),
            *([restore_cell(row)] if restores else []),
        ]
        writer.writerow([cell(value) for value in values])
    return out.getvalue()
