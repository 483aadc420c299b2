"""`ikr rotate --concurrency N`: the same lines and exit code at any N."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import DAY_100, E2E

pytestmark = pytest.mark.e2e


def test_rotate_prints_the_same_lines_and_exit_code_at_any_concurrency(e2e: E2E) -> None:
    e2e.create_table()

    one = e2e.ikr("rotate", "--now", DAY_100, "--dry-run", "--concurrency", "1")
    many = e2e.ikr("rotate", "--now", DAY_100, "--dry-run", "--concurrency", "8")
    default = e2e.ikr("rotate", "--now", DAY_100, "--dry-run", IKR_CONCURRENCY="3")

    assert one.code == many.code == default.code == 1, one.stdout + one.stderr  # carol's bad tag
    head, *rest = one.lines
    for run in (many, default):
        # the first line names the run's id: everything else is the same, in the same order
        assert run.lines[0].split(", run ")[0] == head.split(", run ")[0]
        assert run.lines[1:] == rest
    assert len(rest) > 5
