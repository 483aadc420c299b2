"""What every entry point does once per process, before its first run: settle the garbage collector.

A run parses millions of short-lived objects out of AWS's answers (GetAccountAuthorizationDetails of
1,000 users is ~400,000 of them per account) and keeps few. With CPython's defaults a young-generation
collection runs every 700 net allocations and, every 100 of those, a full one that walks every object
alive: the modules, botocore's service models and the run's rows included. Measured with
`make bench-cpu`, that was 40-50% of a steady-state run's CPU. Two changes:

- `gc.freeze()` after the imports: what start-up made (modules, models, the settings) lives for the
  process; frozen, no collection walks it again.
- no automatic collection during the imports at all: a Lambda handler calls `gc.disable()` before
  its first import (collections during start-up walk every module imported so far, again and again:
  ~10% of a cold import), and this turns the collector back on.
- a larger young generation (50,000): collections run 70 times less often and each finds the same
  short-lived garbage freed by reference counting already; memory grows by the young generation's
  size at most (a few MB), not with the run.

Reference counting frees almost everything ikr makes; the collector is only for cycles, which the
full collections still find, just less often.
"""

from __future__ import annotations

import gc

YOUNG_GENERATION = 50_000
OLDER_GENERATIONS = (20, 100)


def settle_garbage_collector() -> None:
    """Freeze what start-up made and collect young objects less often. Safe to call again (a warm
    Lambda environment re-importing nothing, a test calling `main()` twice)."""
    # No gc.collect() first: start-up's garbage is ~1,000 objects (~0.4 MB, measured on the rotator)
    # frozen for the life of the process, where a full collection of its ~100,000 objects costs
    # ~35 ms of every cold start. Python's own advice for gc.freeze() is the same: disable early,
    # freeze without collecting.
    gc.freeze()
    gc.set_threshold(YOUNG_GENERATION, *OLDER_GENERATIONS)
    gc.enable()
