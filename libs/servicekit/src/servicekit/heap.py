"""The cyclic garbage collector, set for a long-running service.

Almost everything a request or a consumer batch allocates is freed by reference counting;
the cyclic collector finds next to nothing (measured: a few hundred objects over 3,000
joins). Yet with Python's defaults it ran about a thousand times in onboarding during
those joins, and each full collection walked the ~200,000 objects imports leave
behind (130 ms each, every request stalled meanwhile): 8–10 % of onboarding's CPU and
3–6 % of the other services'. So, at start:

- what start-up created is frozen (``gc.freeze``): modules, classes, mappers and
  statements live as long as the process, and no collection walks them again;
- the youngest generation is collected after ``gen0_threshold`` net allocations instead
  of 700, so collections are rare and short.

After this, the collector took 0.04 s of onboarding's CPU over the same joins.
"""

from __future__ import annotations

import gc

DEFAULT_GEN0_THRESHOLD = 25_000


def settle(gen0_threshold: int) -> None:
    """Freeze what start-up left (once per process: a test process starts many apps, and
    what a freeze keeps is never collected) and collect the young generation less often.
    ``gen0_threshold`` 0 leaves the collector as Python sets it."""
    if gen0_threshold <= 0:
        return
    if gc.get_freeze_count() == 0:
        gc.collect()
        gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(gen0_threshold, older, oldest)
