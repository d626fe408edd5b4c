"""The backbone's probe: a minimal producer and consumer on servicekit's mechanisms.

Used by the reliability tests (as real processes) and by the pipeline benchmark.
The producer writes a ``probes`` row and its event in one transaction; the
consumer adds each probe's amount to its subject's tally. ``applied`` counts
events applied, so a double effect is visible; ``out_of_order`` counts events
that arrived after a later one of the same subject (per-key order).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, case, update
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.db import create_engine, insert_ignore_returning
from servicekit.events import Event, new_event
from servicekit.outbox import add_event
from servicekit.tables import kit_metadata

PROBE_TYPE = "quanzi.platform.probe.recorded.v1"
POISON_FLAG_ENV = "PROBE_POISON_FLAG"

probe_metadata = MetaData()
probes = Table(
    "probes",
    probe_metadata,
    Column("id", String(64), primary_key=True),
    Column("subject", String(64), nullable=False),
    Column("amount", Integer, nullable=False),
)
tallies = Table(
    "tallies",
    probe_metadata,
    Column("subject", String(64), primary_key=True),
    Column("total", Integer, nullable=False),
    Column("applied", Integer, nullable=False),
    Column("last_seq", Integer, nullable=False),
    Column("out_of_order", Integer, nullable=False),
)


async def create_schema(database_url: str) -> None:
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(kit_metadata.create_all)
        await connection.run_sync(probe_metadata.create_all)
    await engine.dispose()


def probe_event(
    topic: str, subject: str, amount: int, seq: int, *, poison: bool = False, padding: int = 0
) -> Event:
    data: dict[str, object] = {
        "probe_id": uuid.uuid4().hex,
        "subject": subject,
        "amount": amount,
        "seq": seq,
    }
    if padding:
        data["padding"] = "x" * padding
    if poison:
        data["poison"] = True
    return new_event(
        type=PROBE_TYPE,
        source="/probe",
        tenant_id="t-probe",
        topic=topic,
        data=data,
        key=subject,
        subject=subject,
    )


async def write_probe(session: AsyncSession, event: Event) -> None:
    """State and event in the caller's one transaction."""
    await session.execute(
        probes.insert().values(
            id=event.data["probe_id"], subject=event.data["subject"], amount=event.data["amount"]
        )
    )
    await add_event(session, event)


@dataclass
class _SubjectRun:
    total: int = 0
    applied: int = 0
    first_seq: int = 0
    last_seq: int = 0
    out_of_order: int = 0


async def apply_probes(session: AsyncSession, events: Sequence[Event]) -> None:
    """A batch handler: two statements for a whole batch, whatever its size."""
    flag = os.environ.get(POISON_FLAG_ENV)
    runs: dict[str, _SubjectRun] = {}
    for event in events:
        if event.data.get("poison") and flag and Path(flag).exists():  # noqa: ASYNC240 (tests)
            raise ValueError(f"poison probe {event.data['probe_id']}")
        seq = int(event.data["seq"])
        run = runs.get(event.data["subject"])
        if run is None:
            run = runs[event.data["subject"]] = _SubjectRun(first_seq=seq, last_seq=seq)
        elif seq < run.last_seq:
            run.out_of_order += 1
        run.total += int(event.data["amount"])
        run.applied += 1
        run.last_seq = seq
    if not runs:
        return
    empty = {"total": 0, "applied": 0, "last_seq": -1, "out_of_order": 0}
    await insert_ignore_returning(
        session, tallies, [{"subject": s, **empty} for s in runs], tallies.c.subject
    )
    await session.execute(
        update(tallies)
        .where(tallies.c.subject == bindparam("b_subject"))
        .values(
            total=tallies.c.total + bindparam("b_total"),
            applied=tallies.c.applied + bindparam("b_applied"),
            out_of_order=tallies.c.out_of_order
            + bindparam("b_out_of_order")
            + case((tallies.c.last_seq > bindparam("b_first_seq"), 1), else_=0),
            last_seq=bindparam("b_last_seq"),
        ),
        [
            {
                "b_subject": subject,
                "b_total": run.total,
                "b_applied": run.applied,
                "b_out_of_order": run.out_of_order,
                "b_first_seq": run.first_seq,
                "b_last_seq": run.last_seq,
            }
            for subject, run in runs.items()
        ],
    )
