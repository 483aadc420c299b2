"""The report as one self-contained HTML page. Pure: a `Report` in, a string out.

No network: CSS and JavaScript are inline, the chart is inline SVG, and a Content-Security-Policy
forbids every fetch. Every value is escaped (user names, tags, account and OU names are user input).
The table sorts (click a column head) and filters (text box, kind) with a few lines of JavaScript;
without JavaScript it is still a complete, readable table.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from html import escape

from central.domain.policy import Action
from central.report.ahead import html_sections
from central.report.on_demand import on_demand_html, pending_note
from central.report.render_text import summary_line, when
from central.report.restores import restore_html
from central.report.rows import AccountRow, AccountState, KeyRow, Report, ReportRow, RowKind

CHART_ROWS = 40  # the keys nearest to (or past) their policy; the table has them all


def e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def _iso(moment: datetime | None) -> str:
    return "" if moment is None else moment.isoformat()


_CSS = """
:root{--ok:#2e7d32;--due:#e65100;--over:#c62828;--pend:#1565c0;--risk:#6a1b9a;--mute:#666;--line:#ddd}
*{box-sizing:border-box}
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;background:#fafafa}
header,main{max-width:1400px;margin:0 auto;padding:0 20px}
header{padding-top:16px}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:28px 0 8px}
.sub{color:var(--mute);margin:0}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px;margin-top:16px}
.tile{background:#fff;border:1px solid var(--line);border-left:5px solid var(--mute);border-radius:6px}
.tile{padding:10px 14px}
.tile .n{display:block;font-size:28px;font-weight:600}
.tile .l{color:var(--mute)}
.tile.due{border-left-color:var(--due)}
.tile.over,.tile.fail{border-left-color:var(--over)}
.tile.ok{border-left-color:var(--ok)}
.tile.risk{border-left-color:var(--risk)}
.tile.pend{border-left-color:var(--pend)}
.card{background:#fff;border:1px solid var(--line);border-radius:6px;padding:12px;overflow-x:auto}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;vertical-align:top;padding:5px 8px;border-bottom:1px solid var(--line)}
th{background:#f0f0f0;position:sticky;top:0;white-space:nowrap}
th[data-type]{cursor:pointer}
th[aria-sort=ascending]::after{content:" \\25B2"}
th[aria-sort=descending]::after{content:" \\25BC"}
td small,.mute{color:var(--mute)}
code{font-size:12px}
tr.problem td:first-child{box-shadow:inset 4px 0 var(--over)}
tr.overdue td:first-child{box-shadow:inset 4px 0 var(--due)}
.badge{display:inline-block;padding:1px 7px;border-radius:10px;font-size:12px;color:#fff;background:var(--mute)}
.badge{white-space:nowrap}
.b-rotate{background:var(--due)}
.b-not-due{background:var(--ok)}
.b-pending{background:var(--pend)}
.b-skip{background:var(--over)}
.b-unmanaged-risk{background:var(--risk)}
.b-unreachable,.b-bad-account-tags,.b-bad-tags{background:var(--over)}
.b-opted-in{background:var(--ok)}
.controls{display:flex;gap:10px;align-items:center;margin-bottom:8px;flex-wrap:wrap}
.controls input{padding:5px 8px;min-width:260px}
.controls select{padding:5px}
svg text{font:11px system-ui,sans-serif;fill:#333}
.legend span{margin-right:14px}
.sw{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}
footer{max-width:1400px;margin:24px auto;padding:0 20px;color:var(--mute);font-size:12px}
"""

_JS = """
(function(){
  var table=document.getElementById('rows'),body=table.tBodies[0],heads=table.tHead.rows[0].cells;
  var text=document.getElementById('filter'),kind=document.getElementById('kind');
  var shown=document.getElementById('shown');
  function value(row,i,type){var v=row.cells[i].getAttribute('data-v');if(v===null){v=row.cells[i].textContent;}
    if(type==='num'){var n=parseFloat(v);return isNaN(n)?-Infinity:n;}return v.toLowerCase();}
  Array.prototype.forEach.call(heads,function(th,i){var type=th.getAttribute('data-type');if(!type){return;}
    th.tabIndex=0;function sort(){var asc=th.getAttribute('aria-sort')!=='ascending';
      Array.prototype.forEach.call(heads,function(h){h.removeAttribute('aria-sort');});
      th.setAttribute('aria-sort',asc?'ascending':'descending');
      var rows=Array.prototype.slice.call(body.rows);
      rows.sort(function(a,b){var x=value(a,i,type),y=value(b,i,type);return (x<y?-1:x>y?1:0)*(asc?1:-1);});
      rows.forEach(function(r){body.appendChild(r);});}
    th.addEventListener('click',sort);th.addEventListener('keydown',function(ev){if(ev.key==='Enter'){sort();}});});
  function filter(){var q=text.value.trim().toLowerCase(),k=kind.value,n=0;
    Array.prototype.forEach.call(body.rows,function(r){
      var hit=(!k||r.getAttribute('data-kind')===k||(k==='problem'&&r.classList.contains('problem'))
        ||(k==='overdue'&&r.classList.contains('overdue'))||(k==='due'&&r.getAttribute('data-decision')==='rotate'))
        &&(!q||r.textContent.toLowerCase().indexOf(q)>=0);
      r.hidden=!hit;if(hit){n++;}});
    shown.textContent=n+' of '+body.rows.length+' rows';}
  text.addEventListener('input',filter);kind.addEventListener('change',filter);filter();
})();
"""


def _tile(number: int, label: str, css: str, name: str, note: str = "") -> str:
    small = f"<small class='mute'>{e(note)}</small>" if note else ""
    return (
        f"<div class='tile {css}' data-tile='{e(name)}'><span class='n'>{number}</span>"
        f"<span class='l'>{e(label)}</span><br>{small}</div>"
    )


def _tiles(report: Report) -> str:
    s = report.summary
    return (
        "<section class='tiles'>"
        + "".join(
            [
                _tile(
                    s.accounts,
                    "accounts",
                    "",
                    "accounts",
                    f"{s.opted_in} opted in, {s.not_opted_in} not, {s.unreachable} unreachable"
                    + (f", {s.not_deployed} not deployed" if s.not_deployed else ""),
                ),
                _tile(s.managed_users, "managed users", "ok", "managed-users"),
                _tile(s.due_now, "due now", "due", "due-now", "rotated by the next run"),
                _tile(s.overdue, "overdue", "over", "overdue", "by more than a day"),
                _tile(s.failures, "failures", "fail", "failures", "need a person"),
                _tile(s.pending_deletions, "old keys pending deletion", "pend", "pending"),
                _tile(s.unmanaged_risk, "unmanaged at risk", "risk", "unmanaged-risk", "old keys, no IKR:EMAIL"),
            ]
        )
        + "</section>"
    )


def _judged(row: ReportRow) -> KeyRow | None:
    active = [key for key in row.keys if key.status == "Active"] or row.keys
    return max(active, key=lambda key: key.age_days) if active else None


def _colour(row: ReportRow) -> tuple[str, str]:
    if row.kind is RowKind.UNMANAGED_RISK:
        return "var(--risk)", "unmanaged, past policy"
    if row.overdue:
        return "var(--over)", "overdue"
    if row.decision is Action.ROTATE:
        return "var(--due)", "due now"
    if row.decision is Action.PENDING:
        return "var(--pend)", "rotated, old key pending"
    if row.decision is Action.SKIP:
        return "var(--mute)", "skipped"
    return "var(--ok)", "within policy"


def _chart(report: Report) -> str:
    bars = []
    for row in report.rows:
        key = _judged(row)
        if key is None or row.rotate_after is None or row.user is None:
            continue
        bars.append((key.age_days / row.rotate_after.days, row, key))
    if not bars:
        return "<p class='mute' id='chart-empty'>No access key to chart.</p>"
    bars.sort(key=lambda bar: -bar[0])
    shown = bars[:CHART_ROWS]
    label_w, plot_w, bar_h, gap, top = 230, 640, 14, 6, 24
    longest = max(max(key.age_days, row.rotate_after.days if row.rotate_after else 0) for _, row, key in shown)
    scale = max(1, int(longest * 1.1))
    height = top + len(shown) * (bar_h + gap) + 24
    parts = [
        f"<svg id='chart' role='img' aria-label='key age against policy' width='{label_w + plot_w + 20}' "
        f"height='{height}' viewBox='0 0 {label_w + plot_w + 20} {height}' xmlns='http://www.w3.org/2000/svg'>"
    ]
    for tick in range(0, scale + 1, max(1, _step(scale))):
        x = label_w + plot_w * tick / scale
        parts.append(f"<line x1='{x:.1f}' y1='{top - 6}' x2='{x:.1f}' y2='{height - 20}' stroke='#eee'/>")
        parts.append(f"<text x='{x:.1f}' y='{top - 10}' text-anchor='middle'>{tick}d</text>")
    for index, (_, row, key) in enumerate(shown):
        assert row.rotate_after is not None
        y = top + index * (bar_h + gap)
        colour, meaning = _colour(row)
        width = max(1.0, plot_w * max(0, key.age_days) / scale)
        policy_x = label_w + plot_w * row.rotate_after.days / scale
        label = f"{row.account_name} / {row.user}"
        short = label if len(label) <= 34 else label[:33] + "\u2026"
        tip = (
            f"{label}: key {key.key_id} is {key.age_days} days old; policy {row.rotate_after.days} days "
            f"({row.rotate_after.source}); {meaning}"
        )
        parts.append(
            f"<g class='bar' data-user='{e(row.user)}'><title>{e(tip)}</title>"
            f"<text x='{label_w - 6}' y='{y + bar_h - 3}' text-anchor='end'>{e(short)}</text>"
            f"<rect x='{label_w}' y='{y}' width='{width:.1f}' height='{bar_h}' fill='{colour}' rx='2'/>"
            f"<line x1='{policy_x:.1f}' y1='{y - 2}' x2='{policy_x:.1f}' y2='{y + bar_h + 2}' stroke='#111' "
            "stroke-width='2'/></g>"
        )
    parts.append(f"<text x='{label_w}' y='{height - 4}'>key age in days; black mark: the user's rotation age</text>")
    parts.append("</svg>")
    legend = "".join(
        f"<span><i class='sw' style='background:{colour}'></i>{e(text)}</span>"
        for colour, text in (
            ("var(--ok)", "within policy"),
            ("var(--due)", "due now"),
            ("var(--over)", "overdue"),
            ("var(--pend)", "rotated, old key pending"),
            ("var(--risk)", "unmanaged, past policy"),
            ("var(--mute)", "skipped"),
        )
    )
    more = (
        f"<p class='mute'>The {CHART_ROWS} keys nearest to or past their policy of {len(bars)}; the table below has "
        "every one.</p>"
        if len(bars) > CHART_ROWS
        else ""
    )
    return "".join(parts) + f"<p class='legend'>{legend}</p>{more}"


def _step(scale: int) -> int:
    for step in (5, 10, 15, 30, 50, 100, 200, 500, 1000, 5000):
        if scale / step <= 12:
            return step
    return 10000


def _keys_cell(keys: Iterable[KeyRow]) -> str:
    lines = []
    for key in keys:
        used = f"used {key.last_used:%Y-%m-%d}" if key.last_used else "never used"
        where = f" ({e(key.last_used_service)})" if key.last_used_service else ""
        lines.append(
            f"<code>{e(key.key_id)}</code> {e(key.status)}, {key.age_days} d<br><small>created "
            f"{key.created:%Y-%m-%d}, {e(used)}{where}</small>"
        )
    return "<br>".join(lines) or "<span class='mute'>-</span>"


def _days_cell(row: ReportRow) -> str:
    parts = []
    for name, days in (("rotate", row.rotate_after), ("delete", row.delete_after)):
        if days is not None:
            parts.append(f"{name} {days.days} d <small title='{e(days.source)}'>({e(days.origin.value)})</small>")
    return "<br>".join(parts)


def _pending_cell(row: ReportRow) -> str:
    lines = []
    for item in row.pending:
        deletes = f" at {e(when(item.deletes_at))}" if item.deletes_at else ""
        done = f"{item.attempts} attempt(s)"
        lines.append(
            f"<code>{e(item.old_key_id)}</code> {e(item.state)}{deletes}, {done}{e(pending_note(item))}"
            f"{restore_html(item)}"
        )
    return "<br>".join(lines)


_HEADS = (
    ("Account", "text"),
    ("User", "text"),
    ("Keys", "num"),
    ("Policy (from)", "num"),
    ("Decision / state", "text"),
    ("Next action", "text"),
    ("When (UTC)", "text"),
    ("Pending old keys", ""),
    ("Why", ""),
)


def _row(row: ReportRow) -> str:
    classes = " ".join(name for name, on in (("problem", row.problem), ("overdue", row.overdue)) if on)
    oldest = max((key.age_days for key in row.keys), default=-1)
    decision = row.decision.value if row.decision else ""
    badge = (
        f"<span class='badge b-{e(decision)}'>{e(decision)}</span>"
        if decision
        else f"<span class='badge b-{e(row.kind.value)}'>{e(row.kind.value)}</span>"
    )
    why = "; ".join([row.reason, *row.warnings]) if row.reason or row.warnings else row.account_detail
    cells = [
        f"<td data-v='{e(row.account_name)} {e(row.account_id)}'>{e(row.account_name)}<br><small>"
        f"<code>{e(row.account_id)}</code> {e(row.ou_path)}</small></td>",
        f"<td>{e(row.user or '-')}<br><small>{e(row.email or '')}</small></td>",
        f"<td data-v='{oldest}'>{_keys_cell(row.keys)}</td>",
        f"<td data-v='{row.rotate_after.days if row.rotate_after else -1}'>{_days_cell(row)}</td>",
        f"<td data-v='{e(decision or row.kind.value)}'>{badge}</td>",
        f"<td>{e(row.next_action)}</td>",
        f"<td data-v='{e(_iso(row.next_action_at))}'>{e(when(row.next_action_at))}</td>",
        f"<td>{_pending_cell(row)}</td>",
        f"<td>{e(why)}</td>",
    ]
    head = f"<tr class='{classes}' data-kind='{e(row.kind.value)}' data-decision='{e(decision)}'>"
    return head + "".join(cells) + "</tr>"


def _rows_table(report: Report) -> str:
    kinds = "".join(f"<option value='{e(kind.value)}'>{e(kind.value)}</option>" for kind in RowKind)
    heads = "".join(
        f"<th scope='col' data-col='{e(name.split()[0].lower())}'"
        + (f" data-type='{kind}'" if kind else "")
        + f">{e(name)}</th>"
        for name, kind in _HEADS
    )
    body = "".join(_row(row) for row in report.rows)
    return (
        "<div class='controls'><input id='filter' type='search' placeholder='filter: account, user, key, reason...' "
        "aria-label='filter rows'><select id='kind' aria-label='kind of row'><option value=''>every row</option>"
        "<option value='due'>due now</option><option value='overdue'>overdue</option>"
        f"<option value='problem'>needs a person</option>{kinds}</select><span id='shown' class='mute'></span></div>"
        f"<div class='card'><table id='rows'><thead><tr>{heads}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def _account_row(account: AccountRow) -> str:
    state = account.state.value
    notes = "".join(f"<br><small>{e(note)}</small>" for note in account.notes)
    problem = " class='problem'" if account.state in (AccountState.UNREACHABLE, AccountState.BAD_TAGS) else ""
    return (
        f"<tr{problem} data-account='{e(account.account_id)}'><td><code>{e(account.account_id)}</code></td>"
        f"<td>{e(account.account_name)}</td><td>{e(account.ou_path)}</td>"
        f"<td><span class='badge b-{e(state)}'>{e(state)}</span></td><td>{account.managed_users}</td>"
        f"<td>{account.due_now}</td><td>{account.overdue}</td><td>{account.problems}</td>"
        f"<td>{account.unmanaged_risk}</td><td>{e(account.detail)}{notes}</td></tr>"
    )


def _accounts_table(report: Report) -> str:
    heads = "".join(
        f"<th scope='col'>{name}</th>"
        for name in ("Id", "Name", "OU path", "State", "Managed", "Due", "Overdue", "Problems", "At risk", "Detail")
    )
    body = "".join(_account_row(account) for account in report.accounts)
    return f"<div class='card'><table id='accounts'><thead><tr>{heads}</tr></thead><tbody>{body}</tbody></table></div>"


def render_html(report: Report) -> str:
    scope = "standalone account (no Organization)" if report.standalone else "AWS Organization"
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "script-src 'unsafe-inline'; img-src data:\">"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>ikr report {report.generated_at:%Y-%m-%d %H:%M} UTC</title><style>{_CSS}</style></head><body>"
        f"<header><h1>IAM access keys: ikr report</h1><p class='sub' id='summary'>{e(summary_line(report))}</p>"
        f"<p class='sub'>{e(scope)}; defaults: rotate after {report.default_rotate_after_days} days, delete "
        f"{report.default_delete_after_days} days after rotation.</p>{_tiles(report)}</header><main>"
        f"<h2>Key age against policy</h2><div class='card'>{_chart(report)}</div>"
        f"<h2>Users and keys</h2>{_rows_table(report)}{on_demand_html(report)}"
        f"<h2>Accounts</h2>{_accounts_table(report)}{html_sections(report)}</main>"
        "<footer>Generated by ikr. Decisions are the rotation run's own (same policy, same tags); "
        "dates are UTC.</footer>"
        f"<script>{_JS}</script></body></html>\n"
    )
