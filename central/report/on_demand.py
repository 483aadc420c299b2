"""The report's lines about rotations asked for on demand and keys AWS reported exposed (issue 18).

Each renderer adds these only when there is something to say, so a report without them is the same,
byte for byte, as before: the table a section after its legend, the CSV its `pending_old_keys` text,
the HTML a section after the users' table.
"""

from __future__ import annotations

from html import escape

from central.report.rows import PendingRow, Report


def pending_note(item: PendingRow) -> str:
    """What follows an old key in the pending column: "" for a scheduled rotation that was due."""
    parts = []
    if item.rotation_reason is not None:
        parts.append(f" on demand ({item.rotation_reason})")
    if item.exposed_at is not None:
        parts.append(f" exposed {item.exposed_at:%Y-%m-%d %H:%M} UTC, made inactive")
    return "".join(parts)


def on_demand_lines(report: Report) -> list[str]:
    """One line per old key rotated on demand or reported exposed, for people."""
    lines = []
    for row in report.rows:
        for item in row.pending:
            note = pending_note(item)
            if not note:
                continue
            deletes = f"; deleted at {item.deletes_at:%Y-%m-%d %H:%M} UTC" if item.deletes_at else ""
            lines.append(f"account {row.account_id} user {row.user}: old key {item.old_key_id}{note}{deletes}")
    return lines


def on_demand_text(report: Report) -> list[str]:
    lines = on_demand_lines(report)
    return ["on demand and exposed keys:", *(f"  {line}" for line in lines)] if lines else []


def on_demand_html(report: Report) -> str:
    lines = on_demand_lines(report)
    if not lines:
        return ""
    items = "".join(f"<li>{escape(line)}</li>" for line in lines)
    return f"<h2>On demand and exposed keys</h2><div class='card'><ul id='on-demand'>{items}</ul></div>"
