"""`ikr rotate` and `ikr plan` print their run as it goes, keeping a bounded window in memory.

Each account's lines are written, in the run's order, to a spooled temporary file (memory up to
`SPOOL_BYTES`, then disk) as soon as the account's turn comes, and the run keeps of that account only
its folded row (failed users and counts: `AccountResult.folded`), which is all the totals, the notices
and the exit code need. Once the run is over and the progress line is wiped, the spool is copied to
stdout and the totals line follows: the same text, in the same order, as printing the whole result
(`central.domain.summary.run_lines`), without holding every user's row of thousands of accounts.
"""

from __future__ import annotations

import shutil
import tempfile
from typing import TextIO

from central.domain.results import AccountResult, RunResult
from central.domain.summary import account_lines, head_line, totals

SPOOL_BYTES = 8 * 1024 * 1024


class RunPrinter:
    """A `central.rotation.run.RunSink` for the CLI."""

    def __init__(self) -> None:
        self._spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES, mode="w+", encoding="utf-8")  # noqa: SIM115 - closed in write_to

    def start(self, run: RunResult) -> None:
        self._spool.write(head_line(run) + "\n")

    def row(self, account: AccountResult) -> AccountResult:
        self._spool.writelines(line + "\n" for line in account_lines(account))
        return account.folded()

    def write_to(self, out: TextIO, result: RunResult) -> None:
        """The run's lines, then its totals."""
        with self._spool:
            self._spool.seek(0)
            shutil.copyfileobj(self._spool, out)
        out.write(totals(result) + "\n")
