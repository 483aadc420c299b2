"""Issue 19, point 4: the CLI's run holds a bounded window of account results. `ordered_stream` starts at
most `window` items ahead of the first unyielded one; `RunPrinter` prints exactly what printing the
whole result does, while the run keeps only folded rows (failed users and counts)."""

from __future__ import annotations

import io
import threading
from datetime import UTC, datetime

import pytest

from central.cli.run_printer import RunPrinter
from central.concurrency import ordered_stream
from central.domain.results import AccountResult, AccountStatus, Outcome, RunResult, UserResult
from central.domain.summary import run_lines


def test_results_come_in_order_with_never_more_than_the_window_started_ahead():
    lock = threading.Lock()
    started: list[int] = []
    yielded: list[int] = []
    gaps: list[int] = []

    def work(index: int) -> int:
        with lock:
            started.append(index)
            gaps.append(len(started) - len(yielded))
        return index

    for result in ordered_stream(list(range(200)), work, workers=4, window=8):
        with lock:
            yielded.append(result)

    assert yielded == list(range(200))
    assert max(gaps) <= 8


def test_a_crash_of_one_item_is_raised_and_stops_the_rest():
    def work(index: int) -> int:
        if index == 3:
            raise RuntimeError("boom")
        return index

    got: list[int] = []
    results = ordered_stream(list(range(100)), work, workers=2, window=4)
    got.extend(next(results) for _ in range(3))
    with pytest.raises(RuntimeError, match="boom"):
        next(results)
    assert got == [0, 1, 2]


def _account(number: int, failed_user: bool) -> AccountResult:
    users = [UserResult(f"u{n}", Outcome.NOT_DUE, "not due") for n in range(3)]
    users.append(UserResult("rot", Outcome.ROTATED, "rotated", new_key_id="AKIANEW"))
    if failed_user:
        users.append(UserResult("bad", Outcome.FAILED, "mail refused", failed=True))
    return AccountResult(
        account_id=f"{100000000000 + number}", account_name=f"a{number}", status=AccountStatus.DONE, users=users
    )


def test_the_printer_prints_what_the_whole_result_prints_and_keeps_folded_rows():
    run = RunResult(run_id="r1", now=datetime(2027, 3, 1, 12, tzinfo=UTC), dry_run=False, swept=2)
    rows = [_account(n, failed_user=n == 1) for n in range(3)]
    rows.append(
        AccountResult(account_id="100000000009", account_name="x", status=AccountStatus.FAILED, detail="no role")
    )
    whole = run.model_copy(update={"accounts": rows})

    printer = RunPrinter()
    printer.start(run)
    kept = [printer.row(row) for row in rows]
    folded = run.model_copy(update={"accounts": kept})
    out = io.StringIO()
    printer.write_to(out, folded)

    assert out.getvalue() == "".join(line + "\n" for line in run_lines(whole))
    assert [len(row.users) for row in kept] == [0, 1, 0, 0]  # only the failed user's row is kept
    assert [folded.total(outcome) for outcome in Outcome] == [whole.total(outcome) for outcome in Outcome]
    assert (folded.exit_code, folded.failed) == (whole.exit_code, whole.failed)
    assert "folded_counts" not in folded.model_dump(mode="json")["accounts"][0]
