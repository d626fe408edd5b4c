"""Time-driven work from due-time rows in the owning service's database.

``schedule`` writes a row in the caller's transaction. The runner claims due rows
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's single writer elsewhere), runs
each handler in a savepoint of the same transaction that marks the row fired, so
a timer fires once even with several replicas, and its events go out through
the outbox like any other change. A failing handler is retried with backoff.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import Counter
from sqlalchemy import and_, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from servicekit.db import dialect_insert, insert_ignore
from servicekit.tables import timers
from servicekit.types import utcnow

log = logging.getLogger(__name__)

FIRED = Counter("quanzi_timers_fired_total", "Timers fired", ["kind"])
FAILED = Counter("quanzi_timers_failed_total", "Timer handler failures", ["kind"])


@dataclass(frozen=True)
class Timer:
    id: int
    kind: str
    key: str
    due_at: datetime
    payload: dict[str, Any]
    attempts: int


TimerHandler = Callable[[AsyncSession, Timer], Awaitable[None]]


async def schedule(
    session: AsyncSession, kind: str, key: str, due_at: datetime, payload: dict[str, Any]
) -> None:
    """Schedule (or move) the timer ``kind``/``key``; an already fired one is re-armed."""
    values = {"kind": kind, "key": key, "due_at": due_at, "payload": payload, "attempts": 0}
    if not await insert_ignore(session, timers, values):
        await session.execute(
            update(timers)
            .where(and_(timers.c.kind == kind, timers.c.key == key))
            .values(due_at=due_at, payload=payload, attempts=0, fired_at=None, last_error=None)
        )


async def cancel(session: AsyncSession, kind: str, key: str) -> None:
    await session.execute(delete(timers).where(and_(timers.c.kind == kind, timers.c.key == key)))


async def schedule_many(
    session: AsyncSession, kind: str, due: Sequence[tuple[str, datetime, dict[str, Any]]]
) -> None:
    """``schedule`` for many ``(key, due_at, payload)`` at once: one upsert, keys in order
    (concurrent callers lock the rows in the same order). Each key once."""
    if not due:
        return
    rows = [
        {"kind": kind, "key": key, "due_at": at, "payload": payload, "attempts": 0}
        for key, at, payload in sorted(due, key=lambda item: item[0])
    ]
    insert = dialect_insert(session, timers)
    upsert = insert.on_conflict_do_update(
        index_elements=[timers.c.kind, timers.c.key],
        set_={
            "due_at": insert.excluded.due_at,
            "payload": insert.excluded.payload,
            "attempts": 0,
            "fired_at": None,
            "last_error": None,
        },
    )
    await session.execute(upsert, rows)


async def cancel_many(session: AsyncSession, kind: str, keys: Sequence[str]) -> None:
    if keys:
        await session.execute(
            delete(timers).where(timers.c.kind == kind, timers.c.key.in_(sorted(set(keys))))
        )


class TimerRunner:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        handlers: Mapping[str, TimerHandler],
        *,
        poll_interval_s: float = 1.0,
        batch_size: int = 100,
        max_backoff: timedelta = timedelta(minutes=30),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._handlers = dict(handlers)
        self._poll_interval_s = poll_interval_s
        self._batch_size = batch_size
        self._max_backoff = max_backoff
        self._stopping = False
        self._stopped = asyncio.Event()
        self._clock = clock

    async def run(self) -> None:
        while not self._stopping:
            try:
                fired = await self.fire_due()
            except Exception:
                log.exception("timer batch failed")
                fired = 0
            if fired < self._batch_size:
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._stopped.wait(), timeout=self._poll_interval_s)

    def stop(self) -> None:
        """The batch in hand commits (fired marks with their effects); then ``run`` returns."""
        self._stopping = True
        self._stopped.set()

    async def fire_due(self, now: datetime | None = None) -> int:
        """Fire the timers due at ``now``; returns how many were claimed."""
        now = now or self._clock()
        async with self._sessions() as session, session.begin():
            query = (
                select(timers)
                .where(timers.c.fired_at.is_(None), timers.c.due_at <= now)
                .where(timers.c.kind.in_(list(self._handlers)))
                .order_by(timers.c.due_at)
                .limit(self._batch_size)
                .with_for_update(skip_locked=True)
            )
            rows = (await session.execute(query)).mappings().all()
            for row in rows:
                await self._fire(session, Timer(**{k: row[k] for k in Timer.__dataclass_fields__}))
            return len(rows)

    async def _fire(self, session: AsyncSession, timer: Timer) -> None:
        # By kind and key too: a handler that cancels its own row and schedules another
        # timer may get the freed id back (SQLite reuses the highest rowid), and that new
        # timer must stay armed.
        this = and_(timers.c.id == timer.id, timers.c.kind == timer.kind, timers.c.key == timer.key)
        try:
            async with session.begin_nested():
                await self._handlers[timer.kind](session, timer)
                await session.execute(update(timers).where(this).values(fired_at=utcnow()))
            FIRED.labels(timer.kind).inc()
        except Exception as error:
            FAILED.labels(timer.kind).inc()
            log.exception("timer %s/%s failed", timer.kind, timer.key)
            delay = min(timedelta(seconds=2 ** min(timer.attempts, 20)), self._max_backoff)
            await session.execute(
                update(timers)
                .where(this)
                .values(
                    attempts=timer.attempts + 1,
                    last_error=f"{type(error).__name__}: {error}"[:2000],
                    due_at=utcnow() + delay,
                )
            )
