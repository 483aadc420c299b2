"""The report's view of what comes before a rotation: exemptions (IKR:EXEMPT_UNTIL) and reminders
sent (REMIND_BEFORE_DAYS). Pure: the rows' fields from a decision and the account's reminder
records; the sections the text, CSV and HTML renderers add, only when a row has one, so a report
without exemptions or reminders is byte for byte what it was before."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape

from central.aws.expiry_item import from_epoch
from central.aws.reminders import Reminder
from central.domain.policy import Decision
from central.report.rows import ExemptionRow, ReminderRow, Report, ReportRow


def exemption_row(decision: Decision, now: datetime) -> ExemptionRow | None:
    exemption = decision.exemption
    if exemption is None:
        return None
    return ExemptionRow(
        until=exemption.until,
        reason=exemption.reason,
        active=exemption.active(now),
        warnings=list(exemption.warnings(now)),
    )


def exempt_next(decision: Decision) -> dict[str, object]:
    """What an exempt user's row says happens next: nothing until the exemption ends."""
    assert decision.exemption is not None  # only an exempt decision comes here
    key = f"; then rotate key {decision.key.key_id} if due" if decision.key is not None else ""
    return {
        "next_action": f"none: exempt through {decision.exemption.until:%Y-%m-%d}{key}",
        "next_action_at": decision.exemption.ends_at,
    }


def reminder_rows(records: Sequence[Reminder], user: str) -> list[ReminderRow]:
    """The reminders sent to `user` (claims whose mail is not known to have gone are left out)."""
    return [
        ReminderRow(key_id=record.key_id, sent_at=sent, due_at=from_epoch(record.due_at), channel=record.channel)
        for record in sorted(records, key=lambda r: r.claimed_at)
        if record.user_name == user and (sent := record.sent) is not None
    ]


def _exempt(report: Report) -> list[ReportRow]:
    return [row for row in report.rows if row.exemption is not None]


def _reminded(report: Report) -> list[ReportRow]:
    return [row for row in report.rows if row.reminders]


def _exemption_words(row: ReportRow) -> str:
    assert row.exemption is not None
    exemption = row.exemption
    state = "active" if exemption.active else "lapsed"
    reason = exemption.reason or "(no reason)"
    warned = f"  WARNING: {'; '.join(exemption.warnings)}" if exemption.warnings and exemption.active else ""
    return f"{row.account_id} {row.user}: through {exemption.until:%Y-%m-%d} ({state}): {reason}{warned}"


def _reminder_words(row: ReportRow) -> list[str]:
    return [
        f"{row.account_id} {row.user}: key {sent.key_id} reminded {sent.sent_at:%Y-%m-%d %H:%M} UTC "
        f"(rotation on {sent.due_at:%Y-%m-%d}; {sent.channel})"
        for sent in row.reminders
    ]


def text_sections(report: Report) -> list[str]:
    """Lines after the table: every exemption, then every reminder sent; none when there are none."""
    lines: list[str] = []
    exempt = _exempt(report)
    if exempt:
        lines.append("exemptions (IKR:EXEMPT_UNTIL, through that day UTC):")
        lines.extend(f"  {_exemption_words(row)}" for row in exempt)
    reminded = _reminded(report)
    if reminded:
        lines.append("reminders sent (REMIND_BEFORE_DAYS):")
        lines.extend(f"  {line}" for row in reminded for line in _reminder_words(row))
    return lines


CSV_COLUMNS = ("exempt_until", "exempt_reason", "exemption_active", "exemption_warnings", "reminders_sent")


def csv_wanted(report: Report) -> bool:
    """The CSV gets the columns only when a row has an exemption or a reminder."""
    return bool(_exempt(report) or _reminded(report))


def csv_values(row: ReportRow) -> list[object]:
    exemption = row.exemption
    sent = "; ".join(
        f"{reminder.key_id} {reminder.sent_at:%Y-%m-%d %H:%M} UTC for {reminder.due_at:%Y-%m-%d}"
        for reminder in row.reminders
    )
    if exemption is None:
        return [None, None, None, None, sent]
    return [exemption.until.isoformat(), exemption.reason, exemption.active, "; ".join(exemption.warnings), sent]


def html_sections(report: Report) -> str:
    """Two more cards after the accounts; "" when there is nothing to show."""
    parts: list[str] = []
    exempt = _exempt(report)
    if exempt:
        body = "".join(_exemption_html(row) for row in exempt)
        parts.append(
            "<h2>Exemptions</h2><div class='card'><table id='exemptions'><thead><tr><th scope='col'>Account</th>"
            "<th scope='col'>User</th><th scope='col'>Through (UTC)</th><th scope='col'>State</th>"
            f"<th scope='col'>Reason</th><th scope='col'>Warnings</th></tr></thead><tbody>{body}</tbody></table></div>"
        )
    reminded = _reminded(report)
    if reminded:
        body = "".join(
            f"<tr><td><code>{escape(row.account_id)}</code></td><td>{escape(row.user or '')}</td>"
            f"<td><code>{escape(sent.key_id)}</code></td><td>{sent.sent_at:%Y-%m-%d %H:%M}</td>"
            f"<td>{sent.due_at:%Y-%m-%d}</td><td>{escape(sent.channel)}</td></tr>"
            for row in reminded
            for sent in row.reminders
        )
        parts.append(
            "<h2>Reminders sent</h2><div class='card'><table id='reminders'><thead><tr><th scope='col'>Account</th>"
            "<th scope='col'>User</th><th scope='col'>Key</th><th scope='col'>Sent (UTC)</th>"
            "<th scope='col'>Rotation on</th><th scope='col'>Channel</th></tr></thead>"
            f"<tbody>{body}</tbody></table></div>"
        )
    return "".join(parts)


def _exemption_html(row: ReportRow) -> str:
    assert row.exemption is not None
    exemption = row.exemption
    warned = exemption.active and bool(exemption.warnings)
    problem = " class='problem'" if warned else ""
    return (
        f"<tr{problem}><td><code>{escape(row.account_id)}</code></td><td>{escape(row.user or '')}</td>"
        f"<td>{exemption.until:%Y-%m-%d}</td><td>{'active' if exemption.active else 'lapsed'}</td>"
        f"<td>{escape(exemption.reason) or '<em>none</em>'}</td><td>{escape('; '.join(exemption.warnings))}</td></tr>"
    )
