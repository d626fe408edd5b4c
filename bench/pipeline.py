"""Pipeline benchmark: outbox → relay → broker → consumer → inbox, against raw aiokafka.

For each backend (SQLite, PostgreSQL) and beside raw aiokafka on the same dev
broker, with the same message size, key spread and client settings:

  throughput  N events already committed to the outbox, timed from starting the
              relay until the consumer's last transaction commits; raw: produce N
              messages (send, then gather the acks), then consume them all.
  latency     events written one per transaction at a fixed rate, each timed from
              the writer's commit to the commit of the consumer transaction that
              applied it; raw: send at the same rate with a timestamp in the
              payload, time until the consumer receives it.

Our figures are printed as ratios to the raw ones taken minutes apart in the
same run. Nothing here asserts a timing: it measures.

    uv run --frozen python bench/pipeline.py [--events N] [--rate R] [--seconds S]
                                             [--backends sqlite,postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import NewTopic
from prometheus_client import REGISTRY
from sqlalchemy import Column, Integer, MetaData, String, Table, case, func, select, update
from sqlalchemy import event as orm_event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from servicekit.consumer import ConsumerRunner
from servicekit.db import create_engine, insert_ignore, session_factory, transaction
from servicekit.devbroker import DevBroker, free_port
from servicekit.events import Event, new_event
from servicekit.kafka import KafkaConfig, consumer, ensure_topics, producer
from servicekit.outbox import OutboxRelay, add_event
from servicekit.tables import inbox, kit_metadata, outbox
from servicekit.testing import fresh_database, postgres_admin_dsn, postgres_available
from servicekit.types import utcnow

PROBE_TYPE = "quanzi.platform.probe.recorded.v1"
VALUE_BYTES = 300
PARTITIONS = 3
SUBJECTS = 100
FETCH_MAX_WAIT_MS = 10
INSERT_CHUNK = 2_000
STALL_S = 120.0
THROUGHPUT_GOAL = 0.3  # ours / raw events per second, at least
P99_GOAL = 3.0  # ours / raw p99 latency, at most
RESULTS = Path(__file__).parent / "results"

metadata = MetaData()
probes = Table(
    "probes",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("subject", String(64), nullable=False),
    Column("amount", Integer, nullable=False),
)
tallies = Table(
    "tallies",
    metadata,
    Column("subject", String(64), primary_key=True),
    Column("total", Integer, nullable=False),
    Column("applied", Integer, nullable=False),
    Column("last_seq", Integer, nullable=False),
    Column("out_of_order", Integer, nullable=False),
)


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
    """Call ``callback(perf_counter())`` right after the session's transaction commits."""
    session.sync_session.info.setdefault(_ON_COMMIT, []).append(callback)


@orm_event.listens_for(Session, "after_commit")
def _stamp_commit(session: Session) -> None:
    callbacks = session.info.pop(_ON_COMMIT, ())
    now = time.perf_counter()
    for callback in callbacks:
        callback(now)


@orm_event.listens_for(Session, "after_rollback")
def _forget_stamps(session: Session) -> None:
    session.info.pop(_ON_COMMIT, None)


@dataclass
class Applied:
    """The consumer side: a probe handler that records when its transaction committed."""

    at: dict[str, float] = field(default_factory=dict)
    last: float = 0.0

    def stamp(self, event_id: str, now: float) -> None:
        self.at[event_id] = now
        self.last = now

    async def handle(self, session: AsyncSession, event: Event) -> None:
        await apply_probe(session, event)
        on_commit(session, partial(self.stamp, event.id))


async def apply_probe(session: AsyncSession, event: Event) -> None:
    """The small upsert of the reliability tests' probe consumer."""
    subject, amount, seq = event.data["subject"], int(event.data["amount"]), int(event.data["seq"])
    first = {"subject": subject, "total": amount, "applied": 1, "last_seq": seq, "out_of_order": 0}
    if not await insert_ignore(session, tallies, first):
        await session.execute(
            update(tallies)
            .where(tallies.c.subject == subject)
            .values(
                total=tallies.c.total + amount,
                applied=tallies.c.applied + 1,
                out_of_order=tallies.c.out_of_order + case((tallies.c.last_seq > seq, 1), else_=0),
                last_seq=seq,
            )
        )


# ---------------------------------------------------------------- messages


def padded(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with a ``padding`` field that makes its compact JSON VALUE_BYTES long."""
    base = len(json.dumps({**data, "padding": ""}, separators=(",", ":")))
    return {**data, "padding": "x" * max(0, VALUE_BYTES - base)}


def subject_of(seq: int) -> str:
    return f"member-{seq % SUBJECTS}"


def probe_event(topic: str, seq: int) -> Event:
    data = {"probe_id": uuid.uuid4().hex, "subject": subject_of(seq), "amount": 1, "seq": seq}
    return new_event(
        type=PROBE_TYPE,
        source="/bench",
        tenant_id="t-bench",
        topic=topic,
        data=padded(data),
        key=subject_of(seq),
        subject=subject_of(seq),
    )


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


@dataclass(frozen=True)
class Databases:
    """A producer service's database (outbox) and a consumer service's (inbox)."""

    source: async_sessionmaker[AsyncSession]
    sink: async_sessionmaker[AsyncSession]


@asynccontextmanager
async def databases(backend: str, workdir: Path) -> AsyncIterator[Databases]:
    async with (
        fresh_database(backend, workdir) as source_url,
        fresh_database(backend, workdir) as sink_url,
    ):
        engines = [create_engine(source_url), create_engine(sink_url)]
        try:
            for engine in engines:
                await create_schema(engine)
            yield Databases(session_factory(engines[0]), session_factory(engines[1]))
        finally:
            for engine in engines:
                await engine.dispose()


async def create_schema(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(kit_metadata.create_all)
        await connection.run_sync(metadata.create_all)


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
            handlers={PROBE_TYPE: applied.handle},
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
    bench: Bench, sessions: async_sessionmaker[AsyncSession], service: str
) -> AsyncIterator[float]:
    """An OutboxRelay with a started producer; yields the perf_counter() it started at."""
    async with started_producer(bench.config) as kafka_producer:
        relay = OutboxRelay(sessions, kafka_producer, service=service)
        started = time.perf_counter()
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


def published(service: str) -> int:
    value = REGISTRY.get_sample_value("quanzi_outbox_published_total", {"service": service})
    return int(value or 0)


def note(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


async def wait_until(
    count: Callable[[], int], total: int, progress: Progress, extra: Callable[[], str] = str
) -> None:
    """Poll ``count()`` until it reaches ``total``; fail if it stalls for STALL_S."""
    last, moved = -1, time.perf_counter()
    while (done := count()) < total:
        if done != last:
            last, moved = done, time.perf_counter()
        elif time.perf_counter() - moved > STALL_S:
            raise RuntimeError(f"{progress.label}: stuck at {done:,}/{total:,}")
        progress.update(done, extra())
        await asyncio.sleep(0.05)
    progress.finish(count(), extra())


async def paced(
    total: int, rate: float, step: Callable[[int], Awaitable[None]], progress: Progress
) -> float:
    """Run ``step(i)`` for i < total at ``rate`` per second; returns the rate achieved."""
    started = time.perf_counter()
    for i in range(total):
        delay = started + i / rate - time.perf_counter()
        await asyncio.sleep(max(delay, 0))
        await step(i)
        progress.update(i + 1)
    elapsed = time.perf_counter() - started
    progress.finish(total)
    return total / elapsed


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of ``values`` (sorted), ``q`` in (0, 100]."""
    return values[max(0, math.ceil(q / 100 * len(values)) - 1)]


# ---------------------------------------------------------------- throughput


@dataclass
class Throughput:
    events: int
    seconds: float
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.events / self.seconds


async def fill_outbox(
    sessions: async_sessionmaker[AsyncSession], topic: str, total: int, label: str
) -> None:
    progress = Progress(f"{label} outbox insert", total)
    for first in range(0, total, INSERT_CHUNK):
        rows = [
            outbox_row(probe_event(topic, seq))
            for seq in range(first, min(total, first + INSERT_CHUNK))
        ]
        async with transaction(sessions) as session:
            await session.execute(outbox.insert(), rows)
        progress.update(first + len(rows))
    progress.finish(total)


async def ours_throughput(bench: Bench, backend: str, total: int) -> Throughput:
    topic = await bench.topic(f"tp-{backend}")
    label, service = f"{backend} ours", f"bench-tp-{backend}"
    async with databases(backend, bench.workdir) as dbs:
        await fill_outbox(dbs.source, topic, total, label)
        applied = Applied()
        async with running_consumer(bench, dbs.sink, topic, applied):
            progress = Progress(f"{label} relay → consumer → inbox", total)
            async with running_relay(bench, dbs.source, service) as started:
                await wait_until(
                    lambda: len(applied.at),
                    total,
                    progress,
                    lambda: f"  (relayed {published(service):,})",
                )
            seconds = applied.last - started
        checks = await verify(dbs, total)
    return Throughput(total, seconds, {"checks": checks})


async def raw_throughput(bench: Bench, backend: str, total: int) -> Throughput:
    topic = await bench.topic(f"tp-raw-{backend}")
    messages = [(subject_of(seq).encode(), raw_value(seq)) for seq in range(total)]
    async with (
        raw_consumer(bench.config, topic) as reader,
        started_producer(bench.config) as writer,
    ):
        started = time.perf_counter()
        await raw_produce(writer, topic, messages, Progress(f"{backend} raw produce", total))
        produced = time.perf_counter()
        await raw_drain(reader, total, Progress(f"{backend} raw consume", total))
        consumed = time.perf_counter()
    detail = {
        "produce_per_second": total / (produced - started),
        "consume_per_second": total / (consumed - produced),
    }
    return Throughput(total, consumed - started, detail)


async def raw_produce(
    writer: AIOKafkaProducer,
    topic: str,
    messages: Sequence[tuple[bytes, bytes]],
    progress: Progress,
) -> None:
    acks = []
    for i, (key, value) in enumerate(messages):
        acks.append(await writer.send(topic, value=value, key=key))
        progress.update(i + 1)
    await asyncio.gather(*acks)
    progress.finish(len(messages))


async def raw_drain(reader: AIOKafkaConsumer, total: int, progress: Progress) -> None:
    """Read until ``total`` records arrived (counted: the dev broker's end offsets lie)."""
    count = 0
    while count < total:
        batches = await reader.getmany(timeout_ms=500)
        count += sum(len(records) for records in batches.values())
        progress.update(count)
    progress.finish(count)


async def verify(dbs: Databases, total: int) -> dict[str, int]:
    """Every event applied once, in order per key, and the outbox drained."""
    async with transaction(dbs.sink) as session:
        inbox_rows = await session.scalar(select(func.count()).select_from(inbox))
        applied = await session.scalar(select(func.sum(tallies.c.applied)))
        out_of_order = await session.scalar(select(func.sum(tallies.c.out_of_order)))
    async with transaction(dbs.source) as session:
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


def latencies_ms(sent: Sequence[tuple[Any, float]], received: dict[Any, float]) -> list[float]:
    return sorted((received[key] - at) * 1000 for key, at in sent)


@dataclass
class Writer:
    """The producer side: one probe row and its event per transaction, commit times kept."""

    sessions: async_sessionmaker[AsyncSession]
    topic: str
    committed: dict[str, float] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)

    async def __call__(self, seq: int) -> None:
        event = probe_event(self.topic, seq)
        row = {"id": event.data["probe_id"], "subject": event.data["subject"], "amount": 1}
        async with transaction(self.sessions) as session:
            await session.execute(probes.insert().values(**row))
            await add_event(session, event)
            on_commit(session, partial(self.committed.__setitem__, event.id))
        self.order.append(event.id)


async def ours_latency(
    bench: Bench, backend: str, rate: float, seconds: float, warmup_s: float
) -> Latency:
    topic = await bench.topic(f"lat-{backend}")
    warmup, total = int(rate * warmup_s), int(rate * (warmup_s + seconds))
    async with databases(backend, bench.workdir) as dbs:
        applied, write = Applied(), Writer(dbs.source, topic)
        async with (
            running_consumer(bench, dbs.sink, topic, applied),
            running_relay(bench, dbs.source, f"bench-lat-{backend}"),
        ):
            achieved = await paced(total, rate, write, Progress(f"{backend} ours write", total))
            progress = Progress(f"{backend} ours applied", total)
            await wait_until(lambda: len(applied.at), total, progress)
        checks = await verify(dbs, total)
    measured = [(event_id, write.committed[event_id]) for event_id in write.order[warmup:]]
    return Latency(latencies_ms(measured, applied.at), achieved, {"checks": checks})


async def raw_latency(
    bench: Bench, backend: str, rate: float, seconds: float, warmup_s: float
) -> Latency:
    topic = await bench.topic(f"lat-raw-{backend}")
    warmup, total = int(rate * warmup_s), int(rate * (warmup_s + seconds))
    sent: list[tuple[int, float]] = []
    received: dict[int, float] = {}
    acks: list[asyncio.Future[Any]] = []
    async with (
        raw_consumer(bench.config, topic) as reader,
        started_producer(bench.config) as writer,
    ):

        async def send(seq: int) -> None:
            now = time.perf_counter()
            value = raw_value(seq, now)
            acks.append(await writer.send(topic, value=value, key=subject_of(seq).encode()))
            sent.append((seq, now))

        reading = asyncio.create_task(raw_receive(reader, received))
        try:
            achieved = await paced(total, rate, send, Progress(f"{backend} raw send", total))
            await asyncio.gather(*acks)
            await wait_until(
                lambda: len(received), total, Progress(f"{backend} raw received", total)
            )
        finally:
            reading.cancel()
    return Latency(latencies_ms(sent[warmup:], received), achieved)


async def raw_receive(reader: AIOKafkaConsumer, received: dict[int, float]) -> None:
    while True:
        batches = await reader.getmany(timeout_ms=500)
        now = time.perf_counter()
        for records in batches.values():
            for record in records:
                received[json.loads(record.value)["seq"]] = now


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
        "throughput": {
            "ours": {
                "per_second": ours_tp.per_second,
                "seconds": ours_tp.seconds,
                **ours_tp.detail,
            },
            "raw": {"per_second": raw_tp.per_second, "seconds": raw_tp.seconds, **raw_tp.detail},
        },
        "latency": {"ours": {**ours_lat.summary(), **ours_lat.detail}, "raw": raw_lat.summary()},
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
    if "postgres" in args.backends and not asyncio.run(postgres_available()):
        sys.exit(f"PostgreSQL unreachable at {postgres_admin_dsn()} (or pass --backends sqlite)")
    with tempfile.TemporaryDirectory(prefix="quanzi-bench-") as tmp:
        workdir = Path(tmp)
        with DevBroker(port=free_port(), log_path=workdir / "broker.log") as broker:
            asyncio.run(run(args, broker, workdir))


if __name__ == "__main__":
    main()
