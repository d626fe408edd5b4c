"""fold_run: one read, events of one row folded in order, one write of the changed rows."""

from __future__ import annotations

from collections.abc import Sequence

from servicekit.events import Event
from servicekit.projection import fold_run


def event(row: str, amount: int) -> Event:
    return Event(type="t.v1", source="/s", tenant_id="t", topic="x", data={"row": row, "n": amount})


async def test_a_run_reads_once_folds_in_order_and_writes_what_changed() -> None:
    rows = {"a": (1,), "z": (9,)}
    reads: list[list[str]] = []
    writes: list[dict[str, tuple[int, ...]]] = []

    async def load(keys: Sequence[str]) -> dict[str, tuple[int, ...]]:
        reads.append(list(keys))
        return {k: rows[k] for k in keys if k in rows}

    async def save(changed: dict[str, tuple[int, ...]]) -> None:
        writes.append(changed)

    await fold_run(
        [event("a", 2), event("b", 5), event("a", 3)],
        key=lambda e: str(e.data["row"]),
        fact=lambda e: int(e.data["n"]),
        fold=lambda state, n: (*(state or ()), n),
        load=load,
        save=save,
    )
    assert reads == [["a", "b", "a"]]
    assert writes == [{"a": (1, 2, 3), "b": (5,)}]
