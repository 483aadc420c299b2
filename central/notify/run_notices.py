"""What a rotation run tells the operators: CloudWatch metric values, and one admin notice on failure.

Pure apart from the notifier it is handed: the Lambda handler adds `run_metrics` to its Powertools
Metrics (EMF) and calls `notify_failures`; `ikr rotate` calls `notify_failures` too. The destructor's
own metrics (KeysDestroyed, DestructionRetries) are emitted by `handlers/destructor.py`.
"""

from __future__ import annotations

from central.domain.results import AccountStatus, Outcome, RunResult
from central.domain.summary import totals
from central.notify.admin import AdminNotifier
from central.notify.notice import Event, Notice, Notifier

# Outcome -> metric name; every one is emitted, zeros included, so a CloudWatch alarm sees the series.
USER_METRICS = {
    Outcome.ROTATED: "UsersRotated",
    Outcome.NOT_DUE: "UsersNotDue",
    Outcome.PENDING: "UsersPending",
    Outcome.SKIPPED: "UsersSkipped",
    Outcome.FAILED: "UsersFailed",
    Outcome.RECOVERED: "UsersRecovered",
    Outcome.IN_PROGRESS: "UsersInProgress",
}
MAX_NOTICE_LINES = 50  # one readable mail, not a dump: the report has every row


def run_metrics(result: RunResult) -> dict[str, int]:
    """Counts of one run, by CloudWatch metric name (unit Count)."""
    metrics = {
        "AccountsScanned": len(result.accounts),
        "AccountsUnreachable": sum(1 for a in result.accounts if a.status is AccountStatus.FAILED),
        "AccountsFailed": sum(1 for a in result.accounts if a.failed),
        "ExpiryItemsSwept": result.swept,
    }
    metrics.update({name: result.total(outcome) for outcome, name in USER_METRICS.items()})
    return metrics


def failure_lines(result: RunResult) -> list[str]:
    """One line per account that could not be worked and per user that failed or has a bad tag."""
    lines = []
    for account in result.accounts:
        where = f"account {account.account_id} ({account.account_name})"
        if account.status is AccountStatus.FAILED:
            lines.append(f"{where}: not worked: {account.detail}")
        lines.extend(
            f"{where} user {user.user}: {user.outcome.value}: {user.detail}" for user in account.users if user.failed
        )
    return lines


def notify_failures(admin: AdminNotifier, result: RunResult) -> bool:
    """One summary notice for a run with failures (none for a clean run or a dry run); True if mailed."""
    if result.dry_run or not result.failed:
        return False
    lines = failure_lines(result)
    accounts = sum(1 for a in result.accounts if a.failed)
    head = (
        f"ikr run {result.run_id} at {result.now:%Y-%m-%d %H:%M} UTC: {len(lines)} problem(s) in {accounts} of "
        f"{len(result.accounts)} account(s). {result.total(Outcome.ROTATED)} user(s) were rotated."
    )
    shown = lines[:MAX_NOTICE_LINES]
    if len(lines) > len(shown):
        shown.append(f"... and {len(lines) - len(shown)} more: see `ikr report` or the run's logs")
    return admin.notify(
        f"run {result.run_id}: {len(lines)} problem(s) in {accounts} account(s)",
        [head, "", *shown],
        run_id=result.run_id,
    )


def summary_notice(result: RunResult) -> Notice:
    """Each run's summary for the webhook: the totals line, and the counts as fields."""
    failed = [f"{a.account_id} ({a.account_name})" for a in result.accounts if a.failed]
    return Notice(
        event=Event.RUN_SUMMARY,
        text=f"ikr run {result.run_id} at {result.now:%Y-%m-%d %H:%M} UTC: {totals(result)}",
        at=result.now,
        details={
            "run_id": result.run_id,
            "dry_run": result.dry_run,
            "accounts": len(result.accounts),
            "accounts_with_failures": failed,
            **run_metrics(result),
        },
    )


def tell_the_run(notifier: Notifier, result: RunResult) -> bool:
    """POST the run's summary to the webhook (a dry run changes nothing and is not announced)."""
    return False if result.dry_run else notifier.notify(summary_notice(result))
