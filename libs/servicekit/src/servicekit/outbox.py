"""Transactional outbox: ``add_event`` in the caller's transaction, a relay that publishes.

The relay publishes unsent rows in id order and in batches, waits for the
broker's ack, then marks them sent. A crash between the ack and the mark
republishes the batch: consumers' inboxes make that duplicate harmless. Sent rows
are kept for ``retention``: a broker that comes back empty gets them again
(``servicekit.brokerwatch``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from datetime import timedelta
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError
from prometheus_client import Counter, Gauge
from sqlalchemy import bindparam, delete, event, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from servicekit import failpoints
from servicekit.brokerwatch import cluster_id, record_broker
from servicekit.db import insert_many, read_only
from servicekit.events import Event
from servicekit.tables import outbox
from servicekit.types import utcnow

log = logging.getLogger(__name__)

PUBLISHED = Counter("quanzi_outbox_published_total", "Outbox events published", ["service"])
LAG = Gauge("quanzi_outbox_lag_seconds", "Age of the oldest unsent outbox row", ["service"])
RELAY_ERRORS = Counter("quanzi_outbox_errors_total", "Relay batches that failed", ["service"])

_WAKE_AFTER_COMMIT = "servicekit.outbox.wake"
_wakeups: set[asyncio.Event] = set()
# Any constant works: it names the relay's leadership lock in pg_advisory locks.
_RELAY_LOCK_ID = 0x5155414E5A49

# The relay's statements, built once (a relay cycle runs after every committed use case).
_COLUMNS = (
    outbox.c.id,
    outbox.c.topic,
    outbox.c.key,
    outbox.c.headers,
    outbox.c.payload,
    outbox.c.created_at,
)
_LEAD = select(func.pg_try_advisory_xact_lock(_RELAY_LOCK_ID))
_UNSENT = select(outbox.c.id).where(outbox.c.sent_at.is_(None)).order_by(outbox.c.id)
_READ_UNSENT = (
    select(*_COLUMNS)
    .where(outbox.c.sent_at.is_(None))
    .order_by(outbox.c.id)
    .limit(bindparam("batch"))
)
# PostgreSQL: claim and mark in one statement, inside the transaction that publishes: a
# failed publish rolls the mark back, so "marked" still means "acknowledged".
_CLAIM_AND_MARK = (
    update(outbox)
    .where(
        outbox.c.id.in_(
            _UNSENT.limit(bindparam("batch")).with_for_update(skip_locked=True).scalar_subquery()
        )
    )
    .values(sent_at=bindparam("now"))
    .returning(*_COLUMNS)
)
_MARK_SENT = (
    update(outbox)
    .where(outbox.c.id.in_(bindparam("ids", expanding=True)))
    .values(sent_at=bindparam("now"))
)


async def add_event(session: AsyncSession, event: Event) -> None:
    """Write ``event`` in the session's transaction; it is published only if that commits."""
    await add_events(session, [event])


async def add_events(session: AsyncSession, events: Sequence[Event]) -> None:
    """``add_event`` for many events in one statement (batch handlers); order is kept."""
    if not events:
        return
    now = utcnow()
    rows = [
        {
            "event_id": event.id,
            "topic": event.topic,
            "key": event.key,
            "headers": [[name, value.decode()] for name, value in event.kafka_headers()],
            "payload": event.kafka_value().decode(),
            "created_at": now,
        }
        for event in events
    ]
    await insert_many(session, outbox, rows)  # one statement, ids in the events' order
    session.sync_session.info[_WAKE_AFTER_COMMIT] = True


@event.listens_for(Session, "after_commit")
def _wake_relays(session: Session) -> None:
    # The relay wakes right after the commit instead of waiting for its next poll.
    if session.info.pop(_WAKE_AFTER_COMMIT, False):
        for wakeup in _wakeups:
            wakeup.set()


@event.listens_for(Session, "after_rollback")
def _forget_wakeup(session: Session) -> None:
    session.info.pop(_WAKE_AFTER_COMMIT, None)


class OutboxRelay:
    """Publishes outbox rows to Kafka. Safe with several replicas on PostgreSQL.

    On PostgreSQL one replica at a time holds a transaction-scoped advisory lock
    while it publishes a batch, and claims the rows with ``FOR UPDATE SKIP
    LOCKED``: replicas never publish the same rows at once and per-key order
    holds. On SQLite (one machine, one process per service) the batch is read,
    published, then marked in two short transactions so writers are not blocked.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        producer: AIOKafkaProducer,
        *,
        service: str,
        batch_size: int = 500,
        poll_interval_s: float = 1.0,
        retention: timedelta = timedelta(hours=24),
        watch_broker: bool = True,
        on_new_broker: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._sessions = sessions
        self._producer = producer
        self._service = service
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._retention = retention
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._stopped = asyncio.Event()  # cuts a retry backoff short on stop()
        self._watch_broker = watch_broker
        self._on_new_broker = on_new_broker
        self._broker: str | None = None  # the cluster id this process last published to

    async def run(self) -> None:
        _wakeups.add(self._wakeup)
        backoff = 0.1
        last_purge = utcnow()
        try:
            while not self._stopping:
                try:
                    published = await self.publish_once()
                    backoff = 0.1
                except Exception:
                    RELAY_ERRORS.labels(self._service).inc()
                    log.exception("outbox relay batch failed; retrying in %.1fs", backoff)
                    with suppress(TimeoutError):
                        await asyncio.wait_for(self._stopped.wait(), timeout=backoff)
                    backoff = min(backoff * 2, 30.0)
                    continue
                if utcnow() - last_purge > timedelta(minutes=10):
                    last_purge = utcnow()
                    await self.purge_sent()
                if published < self._batch_size:
                    await self._wait_for_work()
        finally:
            _wakeups.discard(self._wakeup)

    def stop(self) -> None:
        """The batch in hand is published and marked; then ``run`` returns."""
        self._stopping = True
        self._stopped.set()
        self._wakeup.set()

    async def _wait_for_work(self) -> None:
        with suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), timeout=self._poll_interval_s)
        self._wakeup.clear()

    async def publish_once(self) -> int:
        """Publish one batch; returns how many rows it published."""
        if self._watch_broker:
            await self._follow_broker()
        if self._on_postgres():
            async with self._sessions() as session, session.begin():
                return await self._publish_locked(session)
        async with read_only(self._sessions) as session:
            rows = await self._claim(session)
        if not rows:
            LAG.labels(self._service).set(0)
            return 0
        await self._publish(rows)
        async with self._sessions() as session, session.begin():
            await self._mark_sent(session, rows)
        return len(rows)

    async def _follow_broker(self) -> None:
        """Before each batch: a broker that came back empty gets the retained rows again
        (servicekit.brokerwatch), and its topics, before anything new is sent to it."""
        current = await cluster_id(self._producer)
        if current is None or current == self._broker:
            return
        async with self._sessions() as session, session.begin():
            requeued = await record_broker(session, current, self._retention)
        if (self._broker is not None or requeued is not None) and self._on_new_broker:
            await self._on_new_broker()
        # Route by the new broker's partitions: the producer may still hold the old one's.
        # Tansu creates a topic on any client's metadata request (4 partitions), often
        # before the provisioning above, and acknowledges sends to partitions it does not
        # list, which no reader ever sees.
        if not await self._producer.client.force_metadata_update():
            raise KafkaConnectionError("no metadata from the new broker yet")  # batch retried
        self._broker = current

    def _on_postgres(self) -> bool:
        bind = self._sessions.kw["bind"]
        return bool(bind.dialect.name == "postgresql")

    async def _publish_locked(self, session: AsyncSession) -> int:
        connection = await session.connection()
        if not await connection.scalar(_LEAD):
            return 0  # another replica is publishing; its commit will wake us or the poll will
        params = {"batch": self._batch_size, "now": utcnow()}
        claimed = (await connection.execute(_CLAIM_AND_MARK, params)).all()
        if not claimed:
            LAG.labels(self._service).set(0)
            return 0
        rows = sorted(claimed, key=lambda row: row.id)  # RETURNING keeps no order
        await self._publish(rows)
        return len(rows)

    async def _claim(self, session: AsyncSession) -> Sequence[Any]:
        connection = await session.connection()
        return (await connection.execute(_READ_UNSENT, {"batch": self._batch_size})).all()

    async def _publish(self, rows: Sequence[Any]) -> None:
        LAG.labels(self._service).set((utcnow() - rows[0].created_at).total_seconds())
        failpoints.hit("relay.before_publish")
        pending = [
            await self._producer.send(
                row.topic,
                value=row.payload.encode(),
                key=row.key.encode() if row.key is not None else None,
                headers=[(name, value.encode()) for name, value in row.headers],
            )
            for row in rows
        ]
        await asyncio.gather(*pending)
        failpoints.hit("relay.after_ack")
        PUBLISHED.labels(self._service).inc(len(rows))

    async def _mark_sent(self, session: AsyncSession, rows: Sequence[Any]) -> None:
        connection = await session.connection()
        await connection.execute(_MARK_SENT, {"ids": [row.id for row in rows], "now": utcnow()})

    async def purge_sent(self) -> None:
        """Sent rows are kept for a while for inspection, then deleted."""
        async with self._sessions() as session, session.begin():
            await session.execute(
                delete(outbox).where(outbox.c.sent_at < utcnow() - self._retention)
            )


async def unsent_at_least(session: AsyncSession, count: int) -> bool:
    """Whether at least ``count`` events wait to be published (reads at most ``count`` rows
    of the unsent index). Bulk writers check it before each batch and wait while it holds
    (back-pressure): the relay publishes in commit order, so an import that outran it would
    put its whole backlog ahead of every other tenant's next event."""
    unsent = select(outbox.c.id).where(outbox.c.sent_at.is_(None)).limit(count).subquery()
    unsent_count = await session.scalar(select(func.count()).select_from(unsent))
    return (unsent_count or 0) >= count
