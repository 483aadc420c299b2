"""Progress per account (live at a terminal, plain lines otherwise) and a run's metrics and admin notice."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from central.cli.progress import Progress
from central.domain.results import AccountResult, AccountStatus, Outcome, RunResult, UserResult
from central.notify.admin import AdminNotifier
from central.notify.notice import Event
from central.notify.run_notices import MAX_NOTICE_LINES, failure_lines, notify_failures, run_metrics, tell_the_run
from central.report.rows import AccountRow, AccountState
from tests.support.notices import RecordingNotifier
from tests.unit.test_admin_notice import Box


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def account(account_id: str, *outcomes: Outcome, status: AccountStatus = AccountStatus.DONE) -> AccountResult:
    users = [
        UserResult(user=f"u{n}", outcome=o, detail=f"detail {n}", failed=o is Outcome.FAILED)
        for n, o in enumerate(outcomes)
    ]
    return AccountResult(
        account_id=account_id, account_name=f"n{account_id[-1]}", status=status, detail="AccessDenied", users=users
    )


def run(*accounts: AccountResult, dry_run: bool = False) -> RunResult:
    return RunResult(
        run_id="r1", now=datetime(2027, 3, 1, tzinfo=UTC), dry_run=dry_run, swept=2, accounts=list(accounts)
    )


def test_not_a_terminal_gets_one_plain_line_per_account():
    out = io.StringIO()

    with Progress("rotate", out) as progress:
        progress.for_rotation()(account("111122223333", Outcome.ROTATED, Outcome.NOT_DUE))
        progress.for_rotation()(account("222233334444", status=AccountStatus.FAILED))

    assert out.getvalue().splitlines() == [
        "ikr rotate: 1 account(s) done; 111122223333 n3 [-]: 1 rotated, 1 not-due",
        "ikr rotate: 2 account(s) done; 222233334444 n4 [-]: FAILED: AccessDenied",
    ]


def test_a_terminal_gets_one_line_rewritten_in_place_and_wiped_at_the_end():
    out = Terminal()

    with Progress("report", out) as progress:
        finished = progress.for_report()
        finished(AccountRow(account_id="111122223333", account_name="prod", state=AccountState.OPTED_IN))
        finished(AccountRow(account_id="2", account_name="x", state=AccountState.NOT_OPTED_IN))

    text = out.getvalue()
    assert "\n" not in text
    frames = text.split("\r")[1:]
    assert frames[0] == "ikr report: 1 account(s) done; 111122223333 prod: opted-in, 0 managed, 0 due"
    assert frames[1].startswith("ikr report: 2 account(s) done; 2 x: not-opted-in")
    assert len(frames[1]) == len(frames[0])  # padded over the longer line before it
    assert frames[-1] == ""  # wiped: blanks over the line, cursor back at its start
    assert set(frames[-2]) == {" "}


def test_run_metrics_count_every_outcome_zeros_included():
    metrics = run_metrics(
        run(account("1", Outcome.ROTATED, Outcome.FAILED, Outcome.SKIPPED), account("2", status=AccountStatus.FAILED))
    )

    assert metrics == {
        "AccountsScanned": 2,
        "AccountsUnreachable": 1,
        "AccountsFailed": 2,
        "ExpiryItemsSwept": 2,
        "UsersRotated": 1,
        "UsersNotDue": 0,
        "UsersPending": 0,
        "UsersSkipped": 1,
        "UsersFailed": 1,
        "UsersRecovered": 0,
        "UsersInProgress": 0,
    }


def test_a_run_with_failures_sends_one_notice_naming_each():
    box = Box()
    result = run(account("1", Outcome.ROTATED, Outcome.FAILED), account("2", status=AccountStatus.FAILED))

    assert notify_failures(AdminNotifier(box, "admin@example.com"), result) is True

    assert [mail.subject for mail in box.sent] == ["[ikr] run r1: 2 problem(s) in 2 account(s)"]
    assert "account 1 (n1) user u1: failed: detail 1" in box.sent[0].text
    assert "account 2 (n2): not worked: AccessDenied" in box.sent[0].text


def test_a_clean_run_or_a_dry_run_sends_nothing():
    box = Box()
    notifier = AdminNotifier(box, "admin@example.com")

    assert notify_failures(notifier, run(account("1", Outcome.ROTATED))) is False
    assert notify_failures(notifier, run(account("1", Outcome.FAILED), dry_run=True)) is False
    assert box.sent == []


def test_a_long_list_is_cut_with_a_pointer_to_the_report():
    box = Box()
    result = run(account("1", *([Outcome.FAILED] * (MAX_NOTICE_LINES + 5))))

    notify_failures(AdminNotifier(box, "admin@example.com"), result)

    assert len(failure_lines(result)) == MAX_NOTICE_LINES + 5
    assert "... and 5 more: see `ikr report`" in box.sent[0].text


def test_every_real_run_posts_its_summary_to_the_webhook_and_a_dry_run_does_not():
    hook = RecordingNotifier()
    result = run(account("111111111111", Outcome.ROTATED, Outcome.FAILED), account("222222222222", Outcome.NOT_DUE))

    assert tell_the_run(hook, result) is True
    assert tell_the_run(hook, run(account("111111111111", Outcome.ROTATED), dry_run=True)) is False

    (notice,) = hook.notices
    assert notice.event is Event.RUN_SUMMARY
    assert notice.text.startswith(f"ikr run {result.run_id} at ")
    assert "1 rotated" in notice.text
    assert notice.details["UsersRotated"] == 1
    assert notice.details["accounts_with_failures"] == ["111111111111 (n1)"]
