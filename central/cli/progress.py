"""Progress of a long command, one finished account at a time, on stderr (stdout keeps the result).

At a terminal: one live line, rewritten in place with `\\r` and cut to the terminal's width, wiped at
the end so the summary that follows stands alone. Not a terminal (a pipe, a file, cron, CI): one
plain line per account, which a log keeps readably. Pure text out; the callers say what an account's
line holds (`for_rotation`, `for_report`).
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from types import TracebackType
from typing import Self, TextIO

from central.domain.results import AccountResult
from central.domain.summary import account_lines
from central.report.rows import AccountRow


class Progress:
    def __init__(self, command: str, stream: TextIO | None = None, live: bool | None = None) -> None:
        self.command = command
        self.stream = stream if stream is not None else sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.done = 0
        self._shown = 0  # characters of the live line now on screen

    def account(self, text: str) -> None:
        self.done += 1
        line = f"ikr {self.command}: {self.done} account(s) done; {text}"
        if self.live:
            width = max(20, shutil.get_terminal_size().columns - 1)  # never wrap: `\r` returns one row only
            shown = line[:width]
            self.stream.write("\r" + shown.ljust(self._shown))
            self._shown = len(shown)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.live and self._shown:
            self.stream.write("\r" + " " * self._shown + "\r")
            self.stream.flush()
            self._shown = 0

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def for_rotation(self) -> Callable[[AccountResult], None]:
        """The callback `run_rotation(progress=...)` calls once per finished account."""

        def finished(result: AccountResult) -> None:
            self.account(account_lines(result)[0])

        return finished

    def for_report(self) -> Callable[[AccountRow], None]:
        def finished(row: AccountRow) -> None:
            counts = f"{row.managed_users} managed, {row.due_now} due" if row.state.value == "opted-in" else ""
            self.account(f"{row.account_id} {row.account_name}: {row.state.value}" + (f", {counts}" if counts else ""))

        return finished
