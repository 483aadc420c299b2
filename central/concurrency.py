"""Work items on a few threads; results in the items' order, progress in completion order.

Accounts are I/O-bound (AWS round trips), so threads overlap their waiting; each thread's work makes
its own boto3 session and clients (see `central.aws.sessions`). A crash of one item (an exception the
work does not turn into a result) cancels the items not yet started and is raised in the caller.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
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
