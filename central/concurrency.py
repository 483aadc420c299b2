"""Work items on a few threads; results in the items' order, progress in completion order.

Accounts are I/O-bound (AWS round trips), so threads overlap their waiting; each thread's work makes
its own boto3 session and clients (see `central.aws.sessions`). A crash of one item (an exception the
work does not turn into a result) cancels the items not yet started and is raised in the caller.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, as_completed, wait
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def ordered_map(
    items: Sequence[T],
    work: Callable[[T], R],
    workers: int,
    done: Callable[[R], None] | None = None,
    name: str = "ikr-worker",
) -> list[R]:
    """`work(item)` for every item on up to `workers` threads; `done(result)` is called from the
    calling thread as each finishes. With one worker (or one item) everything runs in the caller."""
    if workers <= 1 or len(items) <= 1:
        results: list[R] = []
        for item in items:
            results.append(work(item))
            if done is not None:
                done(results[-1])
        return results
    finished: dict[int, R] = {}
    with ThreadPoolExecutor(max_workers=min(workers, len(items)), thread_name_prefix=name) as pool:
        futures: dict[Future[R], int] = {pool.submit(work, item): index for index, item in enumerate(items)}
        try:
            for future in as_completed(futures):
                result = future.result()
                finished[futures[future]] = result
                if done is not None:
                    done(result)
        except BaseException:
            # Items already running finish (leaving the pool waits for them); none starts anew.
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return [finished[index] for index in range(len(items))]


def ordered_stream(
    items: Sequence[T],
    work: Callable[[T], R],
    workers: int,
    done: Callable[[R], None] | None = None,
    window: int | None = None,
    name: str = "ikr-worker",
) -> Iterator[R]:
    """`ordered_map`, yielding each result in the items' order as soon as it and those before it are
    done, with at most `window` items (default 4 per worker) started but not yet yielded: a run over
    thousands of accounts holds that many results at once, never all of them. `done` is called from
    the consuming thread, in completion order, as in `ordered_map`."""
    if workers <= 1 or len(items) <= 1:
        for item in items:
            result = work(item)
            if done is not None:
                done(result)
            yield result
        return
    ahead = max(window or workers * 4, workers)
    with ThreadPoolExecutor(max_workers=min(workers, len(items)), thread_name_prefix=name) as pool:
        running: dict[Future[R], int] = {}
        finished: dict[int, R] = {}
        started = emitted = 0
        try:
            while emitted < len(items):
                while started < len(items) and started - emitted < ahead:
                    running[pool.submit(work, items[started])] = started
                    started += 1
                if emitted in finished:
                    yield finished.pop(emitted)
                    emitted += 1
                    continue
                completed, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in completed:
                    finished[running.pop(future)] = result = future.result()
                    if done is not None:
                        done(result)
        except BaseException:
            # Items already running finish (leaving the pool waits for them); none starts anew.
            pool.shutdown(wait=False, cancel_futures=True)
            raise
