"""servicekit.heap: the start-up heap frozen once per process, young garbage collected
less often, and nothing touched when the setting is 0."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from servicekit import heap


@pytest.fixture
def collector() -> Iterator[None]:
    """This process's collector as it was, afterwards."""
    threshold = gc.get_threshold()
    was_frozen = gc.get_freeze_count() > 0
    gc.unfreeze()
    try:
        yield
    finally:
        gc.unfreeze()
        if was_frozen:
            gc.freeze()
        gc.set_threshold(*threshold)


def test_settle_freezes_once_and_raises_only_the_young_threshold(collector: None) -> None:
    gc.set_threshold(700, 10, 10)
    heap.settle(25_000)
    frozen = gc.get_freeze_count()
    assert frozen > 0
    assert gc.get_threshold() == (25_000, 10, 10)

    made_later = [[n] for n in range(1_000)]  # tracked by the collector, not frozen
    heap.settle(30_000)  # a second app in the same process (tests) freezes nothing more
    assert gc.get_freeze_count() == frozen
    assert gc.get_threshold() == (30_000, 10, 10)
    assert len(made_later) == 1_000


def test_zero_leaves_the_collector_alone(collector: None) -> None:
    gc.set_threshold(700, 10, 10)
    heap.settle(0)
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == (700, 10, 10)
