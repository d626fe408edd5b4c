"""Order-tolerant projections applied in batched runs: a consumer's run of events folded
into the rows they touch, in memory, with one read and one write.

The mechanism only: the service brings how an event names its row (``key``), what it
says (``fact``), the rule that applies it (``fold``, the service's domain) and the two
statements (``load``, ``save``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TypeVar

from servicekit.events import Event

K = TypeVar("K")
F = TypeVar("F")
S = TypeVar("S")


async def fold_run(
    events: Sequence[Event],
    *,
    key: Callable[[Event], K],
    fact: Callable[[Event], F],
    fold: Callable[[S | None, F], S],
    load: Callable[[Sequence[K]], Awaitable[Mapping[K, S]]],
    save: Callable[[dict[K, S]], Awaitable[None]],
) -> None:
    """Read the rows of the run's keys at once, fold every event in order onto its row
    (several events of one row see each other's effect), write the changed rows at once."""
    keys = [key(event) for event in events]
    facts = [fact(event) for event in events]
    known = dict(await load(keys))
    changed: dict[K, S] = {}
    for row_key, row_fact in zip(keys, facts, strict=True):
        changed[row_key] = known[row_key] = fold(known.get(row_key), row_fact)
    await save(changed)
