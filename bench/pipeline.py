"""Pipeline benchmark: outbox → relay → broker → consumer → inbox, against raw aiokafka.

For each backend (SQLite, PostgreSQL) and beside raw aiokafka on the same dev
broker, with the same message size, key spread and client settings. As in
production, the producing side (writer and ``OutboxRelay``; raw: the producer)
runs in its own process and the consuming side (``ConsumerRunner``; raw: the
consumer) in this one, so each has a core:

  throughput  N events already committed to the outbox, timed from starting the
              relay until the consumer's last transaction commits; raw: timed
              from the first send of N messages until the consumer has them all.
  latency     events written one per transaction at a fixed rate, each timed from
              the writer's commit to the commit of the consumer transaction that
              applied it; raw: send at the same rate with a timestamp in the
              payload, time until the consumer receives it. Wall-clock times
              (``time.time()``), comparable across the two processes.

Our figures are printed as ratios to the raw ones taken minutes apart in the
same run. Nothing here asserts a timing: it measures.

    uv run --frozen python bench/pipeline.py [--events N] [--rate R] [--seconds S]
                                             [--backends sqlite,postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import json
import logging
import math
import multiprocessing
import os
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import NewTopic
from prometheus_client import REGISTRY
from sqlalchemy import event as orm_event
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from servicekit import heap
from servicekit.consumer import Batched, ConsumerRunner
from servicekit.db import create_engine, read_only, session_factory, transaction
from servicekit.devbroker import DevBroker, free_port
from servicekit.events import Event
from servicekit.kafka import KafkaConfig, consumer, ensure_topics, producer
from servicekit.outbox import OutboxRelay
from servicekit.probe import (
    PROBE_TYPE,
    apply_probes,
    create_schema,
    probe_event,
    tallies,
    write_probe,
)
from servicekit.tables import inbox, outbox
from servicekit.testing import fresh_database, postgres_admin_dsn, postgres_available
from servicekit.types import utcnow

VALUE_BYTES = 300
PARTITIONS = 3
SUBJECTS = 100
FETCH_MAX_WAIT_MS = 10
INSERT_CHUNK = 2_000
STALL_S = 120.0
THROUGHPUT_GOAL = 0.3  # ours / raw events per second, at least
P99_GOAL = 3.0  # ours / raw p99 latency, at most
RESULTS = Path(__file__).parent / "results"

R = TypeVar("R")
S = TypeVar("S")
if TYPE_CHECKING:
    from multiprocessing.sharedctypes import Synchronized

    Counter = Synchronized[int]  # a count a child process shares with this one


# ---------------------------------------------------------------- progress


class Progress:
    """One status line on stderr, rewritten in place on a terminal, every 5 s otherwise."""

    def __init__(self, label: str, total: int) -> None:
        self.label = label
        self.total = total
        self.started = time.perf_counter()
        self._tty = sys.stderr.isatty()
        self._every = 0.2 if self._tty else 5.0
        self._shown = self.started

    def update(self, done: int, note: str = "") -> None:
        now = time.perf_counter()
        if now - self._shown >= self._every:
            self._shown = now
            self._write(done, note, now)

    def finish(self, done: int, note: str = "") -> None:
        self._write(done, note, time.perf_counter())
        if self._tty:
            sys.stderr.write("\n")

    def _write(self, done: int, note: str, now: float) -> None:
        elapsed = now - self.started
        rate = f"  {done / elapsed:,.0f}/s" if elapsed >= 0.5 else ""
        line = f"  {self.label}: {done:,}/{self.total:,}{rate}  {elapsed:.1f}s{note}"
        sys.stderr.write(f"\r{line}\x1b[K" if self._tty else line + "\n")
        sys.stderr.flush()


# ---------------------------------------------------------------- commit stamps

_ON_COMMIT = "bench.on_commit"


def on_commit(session: AsyncSession, callback: Callable[[float], None]) -> None:
    """Call ``callback(time.time())`` right after the session's transaction commits."""
    session.sync_session.info.setdefault(_ON_COMMIT, []).append(callback)


@orm_event.listens_for(Session, "after_commit")
def _stamp_commit(session: Session) -> None:
    callbacks = session.info.pop(_ON_COMMIT, ())
    now = time.time()
    for callback in callbacks:
        callback(now)


@orm_event.listens_for(Session, "after_rollback")
def _forget_stamps(session: Session) -> None:
    session.info.pop(_ON_COMMIT, None)


@dataclass
class Applied:
    """The consumer side: ``apply_probes``, and when each event's transaction committed."""

    at: dict[str, float] = field(default_factory=dict)
    last: float = 0.0
    transactions: int = 0

    def count(self) -> int:
        return len(self.at)

    def stamp(self, event_ids: list[str], now: float) -> None:
        self.at.update(dict.fromkeys(event_ids, now))
        self.last = now
        self.transactions += 1

    def detail(self, cpu_seconds: float, seconds: float) -> dict[str, float]:
        return {
            "consumer_events_per_transaction": self.count() / max(self.transactions, 1),
            "consumer_cpu_share": cpu_seconds / seconds,
        }

    async def handle(self, session: AsyncSession, events: Sequence[Event]) -> None:
        await apply_probes(session, events)
        on_commit(session, partial(self.stamp, [event.id for event in events]))


# ---------------------------------------------------------------- messages


def padded(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with a ``padding`` field that makes its compact JSON VALUE_BYTES long."""
    base = len(json.dumps({**data, "padding": ""}, separators=(",", ":")))
    return {**data, "padding": "x" * max(0, VALUE_BYTES - base)}


def subject_of(seq: int) -> str:
    return f"member-{seq % SUBJECTS}"


def bench_event(topic: str, seq: int) -> Event:
    """The probe event for ``seq``, its data VALUE_BYTES of JSON."""
    subject = subject_of(seq)
    skeleton = {"probe_id": uuid.uuid4().hex, "subject": subject, "amount": 1, "seq": seq}
    padding = len(padded(skeleton)["padding"])
    return probe_event(topic, subject, 1, seq, padding=padding)


def outbox_row(event: Event) -> dict[str, Any]:
    """The row ``servicekit.outbox.add_event`` writes for ``event``."""
    return {
        "event_id": event.id,
        "topic": event.topic,
        "key": event.key,
        "headers": [[name, value.decode()] for name, value in event.kafka_headers()],
        "payload": event.kafka_value().decode(),
        "created_at": utcnow(),
    }


def raw_value(seq: int, sent: float | None = None) -> bytes:
    data: dict[str, Any] = {"seq": seq} if sent is None else {"seq": seq, "sent": sent}
    return json.dumps(padded(data), separators=(",", ":")).encode()


# ---------------------------------------------------------------- plumbing


@dataclass(frozen=True)
class Bench:
    config: KafkaConfig
    workdir: Path
    run_id: str

    async def topic(self, name: str) -> str:
        full = f"bench-{self.run_id}-{name}"
        specs = [NewTopic(full, PARTITIONS, 1), NewTopic(full + ".dlq", 1, 1)]
        await ensure_topics(self.config, specs)
        return full


@asynccontextmanager
async def databases(backend: str, workdir: Path) -> AsyncIterator[tuple[str, str]]:
    """URLs of a producer service's database (outbox) and a consumer service's (inbox)."""
    async with (
        fresh_database(backend, workdir) as source,
        fresh_database(backend, workdir) as sink,
    ):
        await create_schema(source)
        await create_schema(sink)
        yield source, sink


@asynccontextmanager
async def sessions_for(url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(url)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


@asynccontextmanager
async def started_producer(config: KafkaConfig) -> AsyncIterator[AIOKafkaProducer]:
    client = producer(config)
    await client.start()
    try:
        yield client
    finally:
        await client.stop()


@asynccontextmanager
async def running_consumer(
    bench: Bench, sessions: async_sessionmaker[AsyncSession], topic: str, applied: Applied
) -> AsyncIterator[ConsumerRunner]:
    """A ConsumerRunner in a fresh group, yielded once it has its partitions."""
    async with started_producer(bench.config) as dlq_producer:
        runner = ConsumerRunner(
            group_id=f"{topic}-group",
            topics=[topic],
            handlers={PROBE_TYPE: Batched(applied.handle)},
            sessions=sessions,
            kafka=bench.config,
            dlq_producer=dlq_producer,
        )
        task = asyncio.create_task(runner.run())
        try:
            await wait_assigned(runner, task)
            yield runner
        finally:
            runner.stop()
            await task


async def wait_assigned(runner: ConsumerRunner, task: asyncio.Task[None]) -> None:
    waiter = asyncio.create_task(runner.assigned.wait())
    started = time.perf_counter()
    done, _ = await asyncio.wait({waiter, task}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
    if waiter not in done:
        waiter.cancel()
        raise RuntimeError("the consumer was not assigned its partitions within 60 s")
    note(f"consumer group joined in {time.perf_counter() - started:.1f}s")


@asynccontextmanager
async def running_relay(
    config: KafkaConfig, sessions: async_sessionmaker[AsyncSession], service: str
) -> AsyncIterator[float]:
    """An OutboxRelay with a started producer; yields the time.time() it started at."""
    async with started_producer(config) as kafka_producer:
        relay = OutboxRelay(sessions, kafka_producer, service=service)
        started = time.time()
        task = asyncio.create_task(relay.run())
        try:
            yield started
        finally:
            relay.stop()
            await task


@asynccontextmanager
async def raw_consumer(config: KafkaConfig, topic: str) -> AsyncIterator[AIOKafkaConsumer]:
    """The same client settings as ConsumerRunner's, but assigned: no group, no commits."""
    client = consumer(config, group_id=None)
    await client.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        client.assign(partitions)
        await client.seek_to_beginning(*partitions)
        yield client
    finally:
        await client.stop()


# Only the relay's counter: collecting the whole registry every 10 ms (the process collector
# reads /proc each time) took 7 % of the relay process's CPU in a profile, a cost the raw
# producer beside it does not pay.
_PUBLISHED_ONLY = REGISTRY.restricted_registry(["quanzi_outbox_published_total"])


def published(service: str) -> int:
    for metric in _PUBLISHED_ONLY.collect():
        for sample in metric.samples:
            if sample.name == "quanzi_outbox_published_total" and sample.labels == {
                "service": service
            }:
                return int(sample.value)
    return 0


def note(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


async def wait_until(
    count: Callable[[], int],
    total: int,
    progress: Progress,
    extra: Callable[[], str] = str,
    child: Child[Any] | None = None,
) -> None:
    """Poll ``count()`` until it reaches ``total``; fail if it stalls for STALL_S
    or if ``child`` failed."""
    last, moved = -1, time.perf_counter()
    while (done := count()) < total:
        if child is not None and child.result.done() and child.result.exception():
            child.result.result()  # raises the child's failure
        if done != last:
            last, moved = done, time.perf_counter()
        elif time.perf_counter() - moved > STALL_S:
            raise RuntimeError(f"{progress.label}: stuck at {done:,}/{total:,}")
        progress.update(done, extra())
        await asyncio.sleep(0.05)
    progress.finish(count(), extra())


async def paced(
    total: int, rate: float, step: Callable[[int], Awaitable[None]], done: Counter
) -> float:
    """Run ``step(i)`` for i < total at ``rate`` per second; returns the rate achieved."""
    started = time.perf_counter()
    for i in range(total):
        delay = started + i / rate - time.perf_counter()
        await asyncio.sleep(max(delay, 0))
        await step(i)
        done.value = i + 1
    return total / (time.perf_counter() - started)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of ``values`` (sorted), ``q`` in (0, 100]."""
    return values[max(0, math.ceil(q / 100 * len(values)) - 1)]


# ---------------------------------------------------------------- processes


@dataclass(frozen=True)
class Side:
    """What the producing side's process is given: it writes and relays, or produces raw."""

    config: KafkaConfig
    topic: str
    total: int
    rate: float = 0.0  # 0: everything at once (throughput); else one per 1/rate s (latency)
    url: str = ""  # ours: the source database
    service: str = ""  # ours: the relay's metrics label


@dataclass
class Produced:
    """What the producing side's process reports back."""

    started: float  # time.time() at the relay's start / the first raw send
    finished: float  # time.time() once everything was acked by the broker
    cpu_seconds: float  # the process's CPU time from started to finished
    achieved_rate: float = 0.0  # latency: the rate the writer kept
    committed: list[tuple[str, float]] = field(default_factory=list)  # ours: (event id, time)

    @property
    def cpu_share(self) -> float:
        """Near 1: that process was busy all along, a core's worth of CPU."""
        return self.cpu_seconds / (self.finished - self.started)


@dataclass
class Child(Generic[R]):
    """A coroutine function run in a spawned process, with a count it keeps up to date."""

    process: BaseProcess
    count: Counter
    result: asyncio.Future[R]


def _child_main(
    target: Callable[[S, Counter], Coroutine[Any, Any, Any]],
    spec: S,
    count: Counter,
    results: Connection,
) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    heap.settle(heap.DEFAULT_GEN0_THRESHOLD)  # as a service's process runs (both sides)
    results.send(asyncio.run(target(spec, count)))
    results.close()


def _receive(results: Connection, process: BaseProcess) -> Any:
    try:
        return results.recv()
    except EOFError:
        process.join(5)
        raise RuntimeError(f"{process.name} exited with {process.exitcode}") from None


@asynccontextmanager
async def child_process(
    target: Callable[[S, Counter], Coroutine[Any, Any, R]], spec: S
) -> AsyncIterator[Child[R]]:
    """Run ``target(spec, count)`` in a new process (spawn): its own interpreter and core."""
    context = multiprocessing.get_context("spawn")
    count = context.Value(ctypes.c_long, 0)
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(
        target=_child_main, args=(target, spec, count, sender), name=target.__name__, daemon=True
    )
    process.start()
    sender.close()
    child = Child[R](
        process, count, asyncio.ensure_future(asyncio.to_thread(_receive, receiver, process))
    )
    try:
        yield child
    finally:
        if not child.result.done():
            process.terminate()
        with suppress(Exception):
            await child.result
        await asyncio.to_thread(process.join, 10)
        receiver.close()


async def until_published(service: str, total: int, relayed: Counter | None = None) -> float:
    """Wait for the relay of this process to publish ``total``; returns when it had."""
    while (done := published(service)) < total:
        if relayed is not None:
            relayed.value = done
        await asyncio.sleep(0.01)
    if relayed is not None:
        relayed.value = done
    return time.time()


async def relay_main(side: Side, relayed: Counter) -> Produced:
    """The producing service in the throughput test: a relay over a full outbox."""
    async with (
        sessions_for(side.url) as sessions,
        running_relay(side.config, sessions, side.service) as started,
    ):
        cpu = time.process_time()
        finished = await until_published(side.service, side.total, relayed)
    return Produced(started, finished, time.process_time() - cpu)


@dataclass
class Writer:
    """One probe row and its event per transaction, commit times kept in order."""

    sessions: async_sessionmaker[AsyncSession]
    topic: str
    committed: list[tuple[str, float]] = field(default_factory=list)

    async def __call__(self, seq: int) -> None:
        event = bench_event(self.topic, seq)
        async with transaction(self.sessions) as session:
            await write_probe(session, event)
            on_commit(session, partial(self.stamp, event.id))

    def stamp(self, event_id: str, now: float) -> None:
        self.committed.append((event_id, now))


async def writer_main(side: Side, written: Counter) -> Produced:
    """The producing service in the latency test: paced writes, and its relay."""
    async with sessions_for(side.url) as sessions:
        write = Writer(sessions, side.topic)
        async with running_relay(side.config, sessions, side.service) as started:
            cpu = time.process_time()
            achieved = await paced(side.total, side.rate, write, written)
            finished = await until_published(side.service, side.total)
    return Produced(started, finished, time.process_time() - cpu, achieved, write.committed)


async def raw_producer_main(side: Side, sent: Counter) -> Produced:
    """The raw producer: all messages at once, or paced with time.time() in the payload."""
    acks: list[asyncio.Future[Any]] = []
    async with started_producer(side.config) as writer:

        async def send(seq: int, value: bytes) -> None:
            acks.append(await writer.send(side.topic, value=value, key=subject_of(seq).encode()))

        values = [] if side.rate else [raw_value(seq) for seq in range(side.total)]
        started, cpu = time.time(), time.process_time()
        if side.rate:
            achieved = await paced(
                side.total, side.rate, lambda seq: send(seq, raw_value(seq, time.time())), sent
            )
        else:
            for seq, value in enumerate(values):
                await send(seq, value)
                sent.value = seq + 1
            achieved = 0.0
        await asyncio.gather(*acks)
        return Produced(started, time.time(), time.process_time() - cpu, achieved)


async def raw_receive(reader: AIOKafkaConsumer, received: list[tuple[bytes, float]]) -> None:
    """Append (value, time.time() of the poll that returned it) for every record."""
    while True:
        batches = await reader.getmany(timeout_ms=500)
        now = time.time()
        received.extend((record.value, now) for part in batches.values() for record in part)


@asynccontextmanager
async def raw_receiving(
    config: KafkaConfig, topic: str
) -> AsyncIterator[list[tuple[bytes, float]]]:
    received: list[tuple[bytes, float]] = []
    async with raw_consumer(config, topic) as reader:
        reading = asyncio.create_task(raw_receive(reader, received))
        try:
            yield received
        finally:
            reading.cancel()
            with suppress(asyncio.CancelledError):
                await reading


# ---------------------------------------------------------------- throughput


@dataclass
class Throughput:
    events: int
    seconds: float
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.events / self.seconds


async def fill_outbox(url: str, topic: str, total: int, label: str) -> None:
    progress = Progress(f"{label} outbox insert", total)
    async with sessions_for(url) as sessions:
        for first in range(0, total, INSERT_CHUNK):
            rows = [
                outbox_row(bench_event(topic, seq))
                for seq in range(first, min(total, first + INSERT_CHUNK))
            ]
            async with transaction(sessions) as session:
                await session.execute(outbox.insert(), rows)
            progress.update(first + len(rows))
    progress.finish(total)


async def ours_throughput(bench: Bench, backend: str, total: int) -> Throughput:
    topic = await bench.topic(f"tp-{backend}")
    label = f"{backend} ours"
    async with databases(backend, bench.workdir) as (source, sink):
        await fill_outbox(source, topic, total, label)
        applied = Applied()
        side = Side(bench.config, topic, total, url=source, service=f"bench-tp-{backend}")
        async with (
            sessions_for(sink) as sessions,
            running_consumer(bench, sessions, topic, applied),
            child_process(relay_main, side) as relay,
        ):
            cpu = time.process_time()
            await wait_until(
                applied.count,
                total,
                Progress(f"{label} relay → consumer → inbox", total),
                lambda: f"  (relayed {relay.count.value:,})",
                relay,
            )
            produced = await relay.result
            cpu = time.process_time() - cpu
        checks = await verify(source, sink, total)
    seconds = applied.last - produced.started
    detail = {
        "relay_per_second": total / (produced.finished - produced.started),
        "relay_cpu_share": produced.cpu_share,
        **applied.detail(cpu, seconds),
        "checks": checks,
    }
    return Throughput(total, seconds, detail)


async def raw_throughput(bench: Bench, backend: str, total: int) -> Throughput:
    topic = await bench.topic(f"tp-raw-{backend}")
    async with (
        raw_receiving(bench.config, topic) as received,
        child_process(raw_producer_main, Side(bench.config, topic, total)) as writer,
    ):
        cpu = time.process_time()
        await wait_until(
            lambda: len(received),
            total,
            Progress(f"{backend} raw produce → consume", total),
            lambda: f"  (produced {writer.count.value:,})",
            writer,
        )
        produced = await writer.result
        cpu = time.process_time() - cpu
    seconds = received[-1][1] - produced.started
    detail = {
        "produce_per_second": total / (produced.finished - produced.started),
        "producer_cpu_share": produced.cpu_share,
        "consumer_cpu_share": cpu / seconds,
    }
    return Throughput(total, seconds, detail)


async def verify(source: str, sink: str, total: int) -> dict[str, int]:
    """Every event applied once, in order per key, and the outbox drained."""
    async with sessions_for(sink) as sessions, read_only(sessions) as session:
        inbox_rows = await session.scalar(select(func.count()).select_from(inbox))
        applied = await session.scalar(select(func.sum(tallies.c.applied)))
        out_of_order = await session.scalar(select(func.sum(tallies.c.out_of_order)))
    async with sessions_for(source) as sessions, read_only(sessions) as session:
        unsent = await session.scalar(
            select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))
        )
    checks = {
        "inbox_rows": int(inbox_rows or 0),
        "applied": int(applied or 0),
        "out_of_order": int(out_of_order or 0),
        "unsent": int(unsent or 0),
    }
    expected = {"inbox_rows": total, "applied": total, "out_of_order": 0, "unsent": 0}
    if checks != expected:
        note(f"WARNING: integrity checks {checks}, expected {expected}")
    return checks


# ---------------------------------------------------------------- latency


@dataclass
class Latency:
    samples_ms: list[float]
    achieved_rate: float
    detail: dict[str, Any] = field(default_factory=dict)

    def p(self, q: float) -> float:
        return percentile(self.samples_ms, q)

    def summary(self) -> dict[str, float]:
        return {
            "count": len(self.samples_ms),
            "achieved_rate": self.achieved_rate,
            "p50_ms": self.p(50),
            "p90_ms": self.p(90),
            "p99_ms": self.p(99),
            "max_ms": self.samples_ms[-1],
        }


async def ours_latency(
    bench: Bench, backend: str, rate: float, seconds: float, warmup_s: float
) -> Latency:
    topic = await bench.topic(f"lat-{backend}")
    warmup, total = int(rate * warmup_s), int(rate * (warmup_s + seconds))
    async with databases(backend, bench.workdir) as (source, sink):
        applied = Applied()
        side = Side(bench.config, topic, total, rate, url=source, service=f"bench-lat-{backend}")
        async with (
            sessions_for(sink) as sessions,
            running_consumer(bench, sessions, topic, applied),
            child_process(writer_main, side) as writer,
        ):
            cpu = time.process_time()
            await wait_until(
                applied.count,
                total,
                Progress(f"{backend} ours write → relay → consumer → inbox", total),
                lambda: f"  (written {writer.count.value:,})",
                writer,
            )
            produced = await writer.result
            cpu = time.process_time() - cpu
        checks = await verify(source, sink, total)
    samples = sorted((applied.at[id_] - at) * 1000 for id_, at in produced.committed[warmup:])
    detail = {
        "writer_cpu_share": produced.cpu_share,
        **applied.detail(cpu, applied.last - produced.started),
        "checks": checks,
    }
    return Latency(samples, produced.achieved_rate, detail)


async def raw_latency(
    bench: Bench, backend: str, rate: float, seconds: float, warmup_s: float
) -> Latency:
    topic = await bench.topic(f"lat-raw-{backend}")
    warmup, total = int(rate * warmup_s), int(rate * (warmup_s + seconds))
    async with (
        raw_receiving(bench.config, topic) as received,
        child_process(raw_producer_main, Side(bench.config, topic, total, rate)) as writer,
    ):
        cpu = time.process_time()
        await wait_until(
            lambda: len(received),
            total,
            Progress(f"{backend} raw send → receive", total),
            lambda: f"  (sent {writer.count.value:,})",
            writer,
        )
        produced = await writer.result
        cpu = time.process_time() - cpu
    sent = [json.loads(value) for value, _ in received]
    samples = sorted(
        (at - data["sent"]) * 1000
        for data, (_, at) in zip(sent, received, strict=True)
        if data["seq"] >= warmup
    )
    detail = {
        "producer_cpu_share": produced.cpu_share,
        "consumer_cpu_share": cpu / (received[-1][1] - produced.started),
    }
    return Latency(samples, produced.achieved_rate, detail)


# ---------------------------------------------------------------- report


@dataclass(frozen=True)
class Figure:
    backend: str
    metric: str
    ours: float
    raw: float
    goal: str  # "", ">= 0.3" or "<= 3"

    @property
    def ratio(self) -> float:
        return self.ours / self.raw if self.raw else math.inf

    @property
    def met(self) -> bool | None:
        if not self.goal:
            return None
        op, bound = self.goal.split()
        return self.ratio >= float(bound) if op == ">=" else self.ratio <= float(bound)

    def row(self) -> list[str]:
        met = "—" if self.met is None else ("yes" if self.met else "no")
        goal = self.goal.replace(">=", "≥").replace("<=", "≤") + "×" if self.goal else "—"
        return [
            self.backend,
            self.metric,
            f"{self.ours:,.1f}",
            f"{self.raw:,.1f}",
            f"{self.ratio:.3g}×",
            goal,
            met,
        ]


def figures(
    backend: str, ours_tp: Throughput, raw_tp: Throughput, ours_lat: Latency, raw_lat: Latency
) -> list[Figure]:
    return [
        Figure(
            backend,
            "throughput ev/s",
            ours_tp.per_second,
            raw_tp.per_second,
            f">= {THROUGHPUT_GOAL}",
        ),
        Figure(backend, "latency p50 ms", ours_lat.p(50), raw_lat.p(50), ""),
        Figure(backend, "latency p99 ms", ours_lat.p(99), raw_lat.p(99), f"<= {P99_GOAL:g}"),
    ]


def table(rows: Sequence[Figure]) -> str:
    header = ["backend", "metric", "ours", "raw", "ratio", "goal", "met"]
    cells = [header, *(figure.row() for figure in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.rjust(w) if 2 <= i <= 4 else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in cells
    ]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def write_json(
    args: argparse.Namespace, rows: Sequence[Figure], details: dict[str, Any], seconds: float
) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"pipeline-{stamp}.json"
    RESULTS.mkdir(parents=True, exist_ok=True)
    document = {
        "started_at": stamp,
        "run_seconds": seconds,
        "args": vars(args),
        "host": {
            "cpus": os.cpu_count(),
            "loadavg": os.getloadavg(),
            "python": platform.python_version(),
        },
        "value_bytes": VALUE_BYTES,
        "partitions": PARTITIONS,
        "subjects": SUBJECTS,
        "fetch_max_wait_ms": FETCH_MAX_WAIT_MS,
        "figures": [{**asdict(f), "ratio": f.ratio, "met": f.met} for f in rows],
        "details": details,
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


# ---------------------------------------------------------------- main


async def bench_backend(
    bench: Bench, backend: str, args: argparse.Namespace
) -> tuple[list[Figure], dict[str, Any]]:
    print(f"[{backend}] throughput, {args.events:,} events", file=sys.stderr, flush=True)
    loadavg = os.getloadavg()  # the host's load before: other work skews the figures
    raw_tp = await raw_throughput(bench, backend, args.events)
    ours_tp = await ours_throughput(bench, backend, args.events)
    print(
        f"[{backend}] latency, {args.rate:g}/s for {args.seconds:g}s (+{args.warmup:g}s warm-up)",
        file=sys.stderr,
        flush=True,
    )
    lat = (bench, backend, args.rate, args.seconds, args.warmup)
    raw_lat = await raw_latency(*lat)
    ours_lat = await ours_latency(*lat)
    rows = figures(backend, ours_tp, raw_tp, ours_lat, raw_lat)
    for figure in rows:
        print(
            f"  {figure.metric}: ours {figure.ours:,.1f}  raw {figure.raw:,.1f}  "
            f"ratio {figure.ratio:.3g}",
            file=sys.stderr,
            flush=True,
        )
    details = {
        "loadavg_before": loadavg,
        "throughput": {
            "ours": {
                "per_second": ours_tp.per_second,
                "seconds": ours_tp.seconds,
                **ours_tp.detail,
            },
            "raw": {"per_second": raw_tp.per_second, "seconds": raw_tp.seconds, **raw_tp.detail},
        },
        "latency": {
            "ours": {**ours_lat.summary(), **ours_lat.detail},
            "raw": {**raw_lat.summary(), **raw_lat.detail},
        },
    }
    return rows, details


async def run(args: argparse.Namespace, broker: DevBroker, workdir: Path) -> None:
    started = time.perf_counter()
    bench = Bench(
        KafkaConfig(broker.bootstrap_servers, fetch_max_wait_ms=FETCH_MAX_WAIT_MS),
        workdir,
        uuid.uuid4().hex[:8],
    )
    rows: list[Figure] = []
    details: dict[str, Any] = {}
    for backend in args.backends:
        backend_rows, details[backend] = await bench_backend(bench, backend, args)
        rows += backend_rows
    seconds = time.perf_counter() - started
    print(table(rows))
    for line in rate_notes(args.rate, details):
        print(line)
    path = write_json(args, rows, details, seconds)
    print(f"\nrun took {seconds:.0f}s; results in {path}", flush=True)


def rate_notes(rate: float, details: dict[str, Any]) -> list[str]:
    """Latency runs whose writer fell short of the rate asked (it writes one at a time)."""
    notes = []
    for backend, detail in details.items():
        for side in ("ours", "raw"):
            achieved = detail["latency"][side]["achieved_rate"]
            if achieved < 0.95 * rate:
                notes.append(
                    f"note: {backend} {side} latency writer reached {achieved:,.0f}/s "
                    f"of the {rate:,.0f}/s asked"
                )
    return notes


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=100_000, help="throughput events")
    parser.add_argument("--rate", type=float, default=1_000.0, help="latency: events per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="latency: measured seconds")
    parser.add_argument(
        "--warmup",
        type=float,
        default=1.0,
        help="latency: seconds written first and left out of the figures",
    )
    parser.add_argument(
        "--backends",
        type=lambda s: [b for b in s.split(",") if b],
        default=["sqlite", "postgres"],
        help="comma-separated: sqlite,postgres",
    )
    args = parser.parse_args(argv)
    unknown = set(args.backends) - {"sqlite", "postgres"}
    if unknown:
        parser.error(f"unknown backends: {', '.join(sorted(unknown))}")
    return args


def main() -> None:
    args = parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    heap.settle(heap.DEFAULT_GEN0_THRESHOLD)  # as a service's process runs (both sides)
    if "postgres" in args.backends and not asyncio.run(postgres_available()):
        sys.exit(f"PostgreSQL unreachable at {postgres_admin_dsn()} (or pass --backends sqlite)")
    with tempfile.TemporaryDirectory(prefix="quanzi-bench-") as tmp:
        workdir = Path(tmp)
        with DevBroker(port=free_port(), log_path=workdir / "broker.log") as broker:
            asyncio.run(run(args, broker, workdir))


if __name__ == "__main__":
    main()
