"""`ordered_map`: results in the items' order, `done` in completion order from the calling thread."""

from __future__ import annotations

import threading

import pytest

from central.concurrency import ordered_map


def test_results_keep_the_items_order_while_done_sees_the_completion_order():
    count = 6
    reported = [threading.Event() for _ in range(count)]
    ran_on: set[int] = set()

    def work(index: int) -> int:
        # each item waits until the one after it was reported done: they finish last to first
        if index + 1 < count:
            assert reported[index + 1].wait(timeout=30)
        ran_on.add(threading.get_ident())
        return index

    seen: list[tuple[int, int]] = []

    def done(result: int) -> None:
        seen.append((result, threading.get_ident()))
        reported[result].set()

    results = ordered_map(list(range(count)), work, workers=count, done=done)

    assert results == [0, 1, 2, 3, 4, 5]
    assert [result for result, _ in seen] == [5, 4, 3, 2, 1, 0]
    assert {thread for _, thread in seen} == {threading.get_ident()}
    assert threading.get_ident() not in ran_on


def test_one_worker_runs_everything_in_the_calling_thread():
    threads: list[int] = []

    def work(n: int) -> int:
        threads.append(threading.get_ident())
        return n

    results = ordered_map([1, 2, 3], work, workers=1)

    assert results == [1, 2, 3]
    assert set(threads) == {threading.get_ident()}


class Died(BaseException):
    pass


def test_a_crash_in_one_item_reaches_the_caller():
    def work(index: int) -> int:
        if index == 0:
            raise Died("the process dies here")
        return index

    done: list[int] = []
    with pytest.raises(Died):
        ordered_map(list(range(10)), work, workers=2, done=done.append)
    assert 0 not in done
