"""A run's result as lines a person reads at a terminal. Pure."""

from __future__ import annotations

from central.domain.results import AccountResult, AccountStatus, Outcome, RunResult

_COUNTED = (
    Outcome.ROTATED,
    Outcome.WOULD_ROTATE,
    Outcome.NOT_DUE,
    Outcome.PENDING,
    Outcome.SKIPPED,
    Outcome.RECOVERED,
    Outcome.WOULD_RECOVER,
    Outcome.IN_PROGRESS,
    Outcome.FAILED,
)


def run_lines(result: RunResult) -> list[str]:
    lines = [head_line(result)]
    for account in result.accounts:
        lines.extend(account_lines(account))
    lines.append(totals(result))
    return lines


def head_line(result: RunResult) -> str:
    """The run's first line: when, which run, where, and what the sweep did (or that nothing changes)."""
    mode = "dry run (nothing changed)" if result.dry_run else f"swept {result.swept} overdue expiry item(s)"
    scope = "standalone account (no Organization)" if result.standalone else "Organization"
    return f"ikr rotate at {result.now:%Y-%m-%d %H:%M} UTC, run {result.run_id}, {scope}, {mode}"


def account_lines(account: AccountResult) -> list[str]:
    head = f"{account.account_id} {account.account_name} [{account.ou_path or '-'}]"
    if account.status is not AccountStatus.DONE:
        return [f"{head}: {account.status.value.upper()}: {account.detail}"]
    counts = ", ".join(f"{account.count(o)} {o.value}" for o in _COUNTED if account.count(o))
    lines = [f"{head}: {counts or 'no managed users'}"]
    width = max((len(user.user) for user in account.users), default=0)
    for user in account.users:
        mark = "!" if user.failed else " "
        lines.append(f" {mark} {user.user:<{width}}  {user.outcome.value:<13} {user.detail}")
    return lines


def totals(result: RunResult) -> str:
    by_status = {status: sum(1 for a in result.accounts if a.status is status) for status in AccountStatus}
    users = ", ".join(f"{result.total(o)} {o.value}" for o in _COUNTED if result.total(o))
    verdict = "some accounts or users FAILED (exit 1)" if result.failed else "all well"
    # Said only when there is one: the management account without its member role, told once per run.
    not_deployed = by_status[AccountStatus.NOT_DEPLOYED]
    missing = f", {not_deployed} not deployed" if not_deployed else ""
    return (
        f"accounts: {by_status[AccountStatus.DONE]} done, {by_status[AccountStatus.NOT_OPTED_IN]} not opted in, "
        f"{by_status[AccountStatus.FAILED]} failed{missing}; users: {users or 'none'}; {verdict}"
    )
