"""Idempotent consumers: inbox in the effects' transaction, offsets committed after it.

Everything one ``getmany`` returns, across its partitions, is applied in one transaction.
If that fails, its records are retried one by one with backoff; a record that still fails
after ``max_attempts`` goes to ``<topic>.dlq`` with the error in its headers and the
partition moves on. Offsets are committed only after the database commit, so a
crash in between redelivers records whose inbox rows make them no-ops.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta
from itertools import groupby
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, KafkaError
from prometheus_client import Counter, Gauge
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from servicekit import failpoints, tracing
from servicekit.brokerwatch import cluster_id
from servicekit.contracts import DLQ_SUFFIX
from servicekit.db import insert_ignore_returning
from servicekit.events import EnvelopeError, Event, decode
from servicekit.kafka import FetchPacer, KafkaConfig
from servicekit.kafka import consumer as make_consumer
from servicekit.tables import inbox
from servicekit.types import utcnow

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, Event], Awaitable[None]]
BatchHandler = Callable[[AsyncSession, Sequence[Event]], Awaitable[None]]
INBOX_CHUNK = 500  # rows per inbox INSERT: well under SQLite's bound-parameter limit
INBOX_PURGE_EVERY_S = 600.0


@dataclass(frozen=True)
class Batched:
    """Registers a handler that applies a run of consecutive events at once (of the types
    it is registered under; two ``Batched`` of one function are one handler).

    ``handlers={"x.v1": Batched(apply_many)}``: one call, one set of statements, for
    up to a whole poll's worth of events; this is where consumer throughput comes from.
    """

    handle: BatchHandler


async def apply_run(
    handler: Handler | Batched, session: AsyncSession, events: Sequence[Event]
) -> None:
    """A run of events of one type through its handler: at once if batched, else one by
    one, each under its own trace. Tests feed events through this, as the runner does."""
    if isinstance(handler, Batched):
        await handler.handle(session, events)
        return
    for event in events:
        token = tracing.current_traceparent.set(event.traceparent)
        try:
            await handler(session, event)
        finally:
            tracing.current_traceparent.reset(token)


Record = Any  # aiokafka.ConsumerRecord[bytes, bytes]; aiokafka ships no type information

APPLIED = Counter("quanzi_consumer_applied_total", "Events applied", ["group", "topic"])
DUPLICATES = Counter("quanzi_consumer_duplicates_total", "Redelivered events skipped", ["group"])
DEAD_LETTERED = Counter("quanzi_consumer_dlq_total", "Events sent to a DLQ", ["group", "topic"])
LAG = Gauge(
    "quanzi_consumer_lag", "Records behind the high watermark", ["group", "topic", "partition"]
)

DLQ_HEADERS = ("dlq_error", "dlq_group", "dlq_topic", "dlq_partition", "dlq_offset", "dlq_attempts")


class ConsumerRunner:
    """Runs one consumer group over ``topics``, dispatching events to handlers by type.

    Events of types without a handler are skipped (a consumer models only what it reads).
    """

    def __init__(
        self,
        *,
        group_id: str,
        topics: Sequence[str],
        handlers: Mapping[str, Handler | Batched],
        sessions: async_sessionmaker[AsyncSession],
        kafka: KafkaConfig,
        dlq_producer: AIOKafkaProducer,
        batch_size: int = 500,
        max_attempts: int = 5,
        retry_backoff_s: float = 0.2,
        from_beginning: bool = False,
        watch_broker: bool = True,
        inbox_retention: timedelta = timedelta(days=7),
    ) -> None:
        self.group_id = group_id
        self._topics = list(topics)
        self._handlers = dict(handlers)
        self._sessions = sessions
        self._kafka = kafka
        self._dlq_producer = dlq_producer
        self._batch_size = batch_size
        self._max_attempts = max_attempts
        self._retry_backoff_s = retry_backoff_s
        self._from_beginning = from_beginning
        self._watch_broker = watch_broker
        self._inbox_retention = inbox_retention
        self._purged_at = 0.0  # loop time of the last inbox purge
        self._broker: str | None = None  # the cluster id of the broker the positions are on
        self._consumer: AIOKafkaConsumer | None = None
        self._joining: asyncio.Future[None] | None = None
        self._stopping = False
        self._lag_reported_at = 0.0
        self.assigned = asyncio.Event()

    async def run(self) -> None:
        consumer = make_consumer(self._kafka, group_id=self.group_id)
        consumer.subscribe(self._topics, listener=_Rebalance(self))
        self._consumer = consumer  # before start(): the first assignment may come during it
        try:
            if self._watch_broker:  # before start(): the positions it loads are on this one
                self._broker = await cluster_id(self._dlq_producer)
            # inside try: a cancellation while joining must stop it too
            self._joining = asyncio.ensure_future(consumer.start())
            try:
                await self._joining
            except asyncio.CancelledError:
                if self._stopping and not _current_task_cancelling():
                    return  # stopped while joining its group: nothing read, nothing to finish
                raise
            finally:
                self._joining = None
            pacer = FetchPacer(consumer, self._kafka)
            loop = asyncio.get_running_loop()
            while not self._stopping:
                batches = await consumer.getmany(timeout_ms=500, max_records=self._batch_size)
                pacer.saw(bool(batches), loop.time())
                if batches and await self._broker_replaced():
                    # Positions and commits belonged to the old broker: read the new one
                    # from the start; the inbox skips what was applied (brokerwatch).
                    await consumer.seek_to_beginning()
                    continue
                if batches:
                    records = [record for part in batches.values() for record in part]
                    wanted = [record for record in records if self._wants(record)]
                    if wanted:
                        await self._apply_records(wanted)
                    await self._commit({tp: part[-1].offset + 1 for tp, part in batches.items()})
                await self._report_lag(consumer)
                if loop.time() - self._purged_at >= INBOX_PURGE_EVERY_S:
                    self._purged_at = loop.time()
                    await self.purge_inbox()
        finally:
            self._consumer = None
            with suppress(Exception):
                await consumer.stop()

    def stop(self) -> None:
        self._stopping = True
        if self._joining is not None:
            # start() waits for the group's assignment, which a broker may hold for seconds:
            # a consumer that has read nothing yet has nothing to finish.
            self._joining.cancel()

    async def purge_inbox(self) -> int:
        """Forget this group's event ids applied longer ago than the retention: no
        redelivery comes from that far back (the broker's topics and the relays' retention
        are shorter; see ``inbox_retention_hours``), and the inbox would otherwise grow by
        a row per event forever. How many were deleted."""
        cutoff = utcnow() - self._inbox_retention
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                delete(inbox).where(
                    inbox.c.consumer_group == self.group_id, inbox.c.applied_at < cutoff
                )
            )
        return int(getattr(result, "rowcount", 0) or 0)

    async def _broker_replaced(self) -> bool:
        """Whether the broker's cluster id differs from the one these records' positions
        were on (servicekit.brokerwatch); the first answer is remembered."""
        if not self._watch_broker:
            return False
        current = await cluster_id(self._dlq_producer)
        if current is None or current == self._broker:
            return False
        previous, self._broker = self._broker, current
        if previous is None:
            return False
        log.warning(
            "%s: the broker changed (cluster %s, was %s): rereading from the start",
            self.group_id,
            current,
            previous,
        )
        return True

    def _wants(self, record: Record) -> bool:
        """Skip, by the ``ce_type`` header alone, the types this group has no handler for:
        no decoding, no transaction. A record without the header is decoded (and dead-
        lettered as not an envelope)."""
        for name, value in record.headers or ():
            if name == "ce_type":
                return bytes(value).decode(errors="replace") in self._handlers
        return True

    async def _apply_records(self, records: list[Record]) -> None:
        """All records of one poll in one transaction; on failure, one by one."""
        items: list[tuple[Record, Event]] = []
        for record in records:
            try:
                items.append((record, _decode(record)))
            except EnvelopeError as error:
                await self._dead_letter(record, error, attempts=1)
        try:
            async with self._sessions() as session, session.begin():
                await self._apply(session, items)
            failpoints.hit("consumer.after_db_commit")
            return
        except Exception:
            log.warning("batch of %d failed; retrying one by one", len(items), exc_info=True)
        for item in items:
            await self._apply_with_retries(item)

    async def _apply_with_retries(self, item: tuple[Record, Event]) -> None:
        for attempt in range(1, self._max_attempts + 1):
            try:
                async with self._sessions() as session, session.begin():
                    await self._apply(session, [item])
                failpoints.hit("consumer.after_db_commit")
                return
            except Exception as error:
                if attempt == self._max_attempts:
                    await self._dead_letter(item[0], error, attempts=attempt)
                    return
                await asyncio.sleep(self._retry_backoff_s * 2 ** (attempt - 1))

    async def _apply(self, session: AsyncSession, items: list[tuple[Record, Event]]) -> None:
        """Record the events in the inbox in one statement, then run handlers on the new ones."""
        handled = [(record, event) for record, event in items if event.type in self._handlers]
        fresh = await self._claim_in_inbox(session, handled)
        DUPLICATES.labels(self.group_id).inc(len(handled) - len(fresh))
        # Consecutive events of one type form a run: per-key order is kept across types. One
        # Batched registered under several types takes a run of any of them (its handler
        # reads each event's type).
        for _, run in groupby(fresh, key=lambda item: self._run_key(item[1].type)):
            events = [event for _, event in run]
            await apply_run(self._handlers[events[0].type], session, events)
            APPLIED.labels(self.group_id, events[0].topic).inc(len(events))

    def _run_key(self, event_type: str) -> object:
        # Batched compares by its function: ``{t: Batched(f) for t in types}`` makes one
        # run of consecutive events of any of those types, not one run per type.
        handler = self._handlers[event_type]
        return handler if isinstance(handler, Batched) else event_type

    async def _claim_in_inbox(
        self, session: AsyncSession, items: list[tuple[Record, Event]]
    ) -> list[tuple[Record, Event]]:
        """The items whose event ids were not in the inbox yet, in order, each id once."""
        unique: dict[str, tuple[Record, Event]] = {}
        for item in items:
            unique.setdefault(item[1].id, item)
        if not unique:
            return []
        now = utcnow()
        rows = [
            {
                "consumer_group": self.group_id,
                "event_id": event.id,
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
                "applied_at": now,
            }
            for record, event in unique.values()
        ]
        inserted: set[str] = set()
        for start in range(0, len(rows), INBOX_CHUNK):
            chunk = rows[start : start + INBOX_CHUNK]
            inserted.update(await insert_ignore_returning(session, inbox, chunk, inbox.c.event_id))
        return [item for event_id, item in unique.items() if event_id in inserted]

    async def _dead_letter(self, record: Record, error: BaseException, *, attempts: int) -> None:
        """Publish to ``<topic>.dlq``; retried until the broker acks so nothing is dropped."""
        message = f"{type(error).__name__}: {error}"[:2000]
        log.error(
            "event to %s%s after %d attempts: %s", record.topic, DLQ_SUFFIX, attempts, message
        )
        original = [(k, v) for k, v in (record.headers or ()) if k not in DLQ_HEADERS]
        extra = {
            "dlq_error": message,
            "dlq_group": self.group_id,
            "dlq_topic": record.topic,
            "dlq_partition": str(record.partition),
            "dlq_offset": str(record.offset),
            "dlq_attempts": str(attempts),
        }
        headers = original + [(k, v.encode()) for k, v in extra.items()]
        backoff = self._retry_backoff_s
        while True:
            try:
                await self._dlq_producer.send_and_wait(
                    record.topic + DLQ_SUFFIX, value=record.value, key=record.key, headers=headers
                )
                DEAD_LETTERED.labels(self.group_id, record.topic).inc()
                return
            except KafkaError:
                log.exception("DLQ publish failed; retrying in %.1fs", backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        assert self._consumer is not None
        try:
            await self._consumer.commit(offsets)
        except CommitFailedError:
            # A partition moved to another member in a rebalance; it will redeliver
            # from the last committed offset and the inbox skips what we applied.
            log.warning("offset commit lost to a rebalance: %s", offsets)

    async def _report_lag(self, consumer: AIOKafkaConsumer) -> None:
        now = asyncio.get_running_loop().time()
        if now - self._lag_reported_at < 5.0:
            return
        self._lag_reported_at = now
        for partition in consumer.assignment():
            highwater = consumer.highwater(partition)
            if highwater is None:
                continue
            with suppress(KafkaError):
                position = await consumer.position(partition)
                LAG.labels(self.group_id, partition.topic, partition.partition).set(
                    max(highwater - position, 0)
                )


def _decode(record: Record) -> Event:
    return decode(record.topic, record.key, record.value, record.headers or ())


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runner: ConsumerRunner) -> None:
        self._runner = runner

    async def on_partitions_revoked(self, revoked: Any) -> None:
        # Batches are committed before the next poll, so there is nothing in flight here.
        return None

    async def on_partitions_assigned(self, assigned: Any) -> None:
        consumer = self._runner._consumer
        if self._runner._from_beginning and consumer is not None and assigned:
            await consumer.seek_to_beginning(*assigned)
        self._runner.assigned.set()


def _current_task_cancelling() -> bool:
    """Whether the running task itself is being cancelled (not only what it awaited)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
