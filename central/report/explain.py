"""`ikr explain`: why one user gets its decision, step by step through the tag chain. Pure.

Each step shows what every scope holds (user → account → OUs nearest first → root → setting) and
marks the value in force. The marks come from the policy's own results (`central.domain.scope.resolve`'s
sources and opt-in, `central.domain.policy.decide`'s decision, the one the report's row is made of),
never from a second reading of the rules, so `explain`, the report and the run cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from central.domain import account_state
from central.domain import tags as t
from central.domain.delivery import recorded_delivery
from central.domain.model import Tag
from central.domain.scope import Days, ScopeTags, chain
from central.domain.sources import OptInReason, SourceKind
from central.report.build import AccountData, judge_managed, unmanaged_row
from central.report.collect import UserFacts
from central.report.rows import ReportRow

USED = "<- in force"


@dataclass
class Step:
    title: str
    lines: list[str] = field(default_factory=list)


def _value(tags: tuple[Tag, ...], key: str) -> str | None:
    values, _ = t.ikr_tags(tags)
    return values.get(key)


def _check_days(key: str, value: str) -> str:
    try:
        t.parse_days(key, value)
    except t.TagProblem as exc:
        return f" (invalid: {exc}; skipped)"
    return ""


def _chain(key: str, user_tags: tuple[Tag, ...] | None, levels: list[ScopeTags], used: Days, setting: int) -> Step:
    step = Step(f"{key}: nearest scope with a valid value wins")
    source = used.source
    if user_tags is not None:
        value = _value(user_tags, key)
        shown = "no tag" if value is None else f"{value!r}{_check_days(key, value)}"
        step.lines.append(f"user tag: {shown}" + (f"  {USED}" if source.kind is SourceKind.USER_TAG else ""))
    for held in levels:
        value = _value(held.tags, key)
        shown = "no tag" if value is None else f"{value!r}{_check_days(key, value)}"
        mark = f"  {USED}" if source.level == held.level and source.key == key else ""
        step.lines.append(f"{held.level}: {shown}{mark}")
    name = key.removeprefix(t.PREFIX)
    mark = f"  {USED}" if source.kind is SourceKind.SETTING else ""
    step.lines.append(f"setting {name}: {setting}{mark}")
    step.lines.append(f"=> {used.days} days, from {used.source}")
    return step


def _opt_in(facts: UserFacts, levels: list[ScopeTags]) -> Step:
    scope = facts.scope
    opt_in = scope.opt_in
    step = Step(f"{t.ENABLED}: is the account opted in? (nearest scope wins)")
    if facts.standalone:
        step.lines.append("the caller is in no Organization: its own account is always managed")
    else:
        for held in levels:
            value = _value(held.tags, t.ENABLED)
            in_force = opt_in.reason is OptInReason.TAG and opt_in.level == held.level
            mark = f"  {USED}" if in_force else ""
            step.lines.append(f"{held.level}: {'no tag' if value is None else repr(value)}{mark}")
    step.lines.extend(f"problem: {problem}" for problem in scope.problems)
    if account_state.unknown(scope.account.state):
        step.lines.append(f"=> {account_state.unknown_detail(scope.account.state)}")
    elif scope.blocked:
        step.lines.append("=> not worked: an IKR tag of the account or an OU above it is invalid (fix it first)")
    elif scope.enabled:
        step.lines.append(f"=> opted in ({opt_in})")
    else:
        step.lines.append(f"=> not opted in ({opt_in}): ikr never enters this account")
    return step


def _keys(row: ReportRow) -> Step:
    step = Step("Access keys")
    for key in row.keys:
        used = "never used or unknown" if key.last_used is None else f"last used {key.last_used:%Y-%m-%d}"
        where = ", ".join(part for part in (key.last_used_service, key.last_used_region) if part)
        step.lines.append(
            f"{key.key_id} {key.status}, created {key.created:%Y-%m-%d}, {key.age_days} days old, {used}"
            + (f" ({where})" if where else "")
        )
    if not row.keys:
        step.lines.append("none")
    return step


def _table(row: ReportRow) -> Step:
    step = Step("Expiry table (old keys waiting for deletion, interrupted rotations)")
    for item in row.pending:
        when = f", deleted at {item.deletes_at:%Y-%m-%d %H:%M} UTC" if item.deletes_at else ""
        error = f", last error: {item.last_error}" if item.last_error else ""
        step.lines.append(f"old key {item.old_key_id}: {item.state}{when}, {item.attempts} attempt(s){error}")
    if not row.pending:
        step.lines.append("nothing recorded for this user")
    return step


def _delivery(row: ReportRow) -> Step:
    step = Step(f"{t.DELIVERY} and {t.VERIFY_USE}: where the new key goes, and when the old one may go")
    delivery = row.delivery or "mail"
    where = f"mailed to {row.email}" if delivery == "mail" else "written in the user's own account; the owner is told"
    target = recorded_delivery(delivery)
    if target.to_ci:  # outside AWS: say where
        where = f"written to {target.where}; the owner is told"
    step.lines.append(f"delivery: {delivery} ({where})")
    if row.verify_use:
        step.lines.append("verify use: yes: the old key goes once the new key has been used, or when the grace ends")
    else:
        step.lines.append("verify use: no: the old key goes at its deletion time")
    for item in row.pending:
        if item.waiting_for_use_since is not None:
            since = f"{item.waiting_for_use_since:%Y-%m-%d %H:%M} UTC"
            step.lines.append(f"old key {item.old_key_id}: the new key was not yet in use at {since}")
    return step


def _decision(row: ReportRow) -> Step:
    verdict = row.decision.value.upper() if row.decision else "NOT MANAGED"
    step = Step(f"Decision: {verdict}")
    step.lines.append(row.reason or "-")
    when = f" at {row.next_action_at:%Y-%m-%d %H:%M} UTC" if row.next_action_at else ""
    step.lines.append(f"next: {row.next_action}{when}")
    if row.overdue:
        step.lines.append("overdue: this should have happened more than a day ago")
    step.lines.extend(f"warning: {warning}" for warning in row.warnings)
    return step


def explain(facts: UserFacts, user_name: str, now: datetime, rotate_default: int, delete_default: int) -> list[Step]:
    scope = facts.scope
    account = scope.account
    levels = chain(account)
    steps = [
        Step(
            f"Account {account.id} ({account.name})",
            [f"OU path: {account.ou_path or '-'}", f"judged at {now:%Y-%m-%d %H:%M} UTC"],
        ),
        _opt_in(facts, levels),
    ]
    if facts.user is None:
        steps.append(Step("Decision: NONE", [f"user {user_name} is not looked at: the account is not worked"]))
        return steps
    user = facts.user
    values, _ = t.ikr_tags(user.tags)
    tag_lines = [f"{key}={value!r}" for key, value in sorted(values.items())] or ["no IKR: tag"]
    steps.append(Step(f"User {user.name}: its IKR tags", tag_lines))
    data = AccountData(
        managed=[user],
        credentials=facts.credentials,
        items=facts.items,
        notes=facts.notes,
        deactivate_days=facts.deactivate_days,
    )
    if t.has_email_tag(user.tags):
        decision, row = judge_managed(scope, user, data, now)
        steps.append(_chain(t.ROTATE_AFTER_DAYS, user.tags, levels, decision.rotate_after, rotate_default))
        steps.append(_chain(t.DELETE_AFTER_DAYS, user.tags, levels, decision.delete_after, delete_default))
        steps.extend([_keys(row), _table(row), _delivery(row), _decision(row)])
    else:
        steps.append(_chain(t.ROTATE_AFTER_DAYS, None, levels, scope.rotate_after, rotate_default))
        row = unmanaged_row(scope, user, facts.credentials, now)
        steps.append(_keys(row))
        risky = row.due_at is not None  # an active key past the account's policy
        steps.append(
            Step(
                "Decision: NOT MANAGED (no IKR:EMAIL tag)",
                [
                    row.reason if risky else "ikr manages only users tagged IKR:EMAIL; no key is past the policy",
                    f"next: {row.next_action}",
                ],
            )
        )
    if facts.notes:
        steps.append(Step("Notes", list(facts.notes)))
    return steps


def explain_lines(steps: list[Step]) -> list[str]:
    lines: list[str] = []
    for number, step in enumerate(steps, 1):
        lines.append(f"{number}. {step.title}")
        lines.extend(f"   {line}" for line in step.lines)
    return lines
