"""Ledger benchmark: credits per second through the consumer path, and leaderboard latency.

On PostgreSQL, in fresh databases, against a dev broker started for the run:

  credits     N ``membership.activated`` events (half with an inviter, so 1.5 credits
              each on average) are published first with a raw aiokafka producer; then
              the real ``ConsumerRunner`` applies them with the rewards handlers (rules,
              caps, lots, release and expiry timers, entries, wallets, levels,
              leaderboard rows, outbox events). Timed from the group's assignment to
              the commit of the transaction that applied the last event. One run per
              handler variant, each in its own database: the per-event handler
              (``rules.handlers.apply_rules``) and the batched one (``apply_rules_many``
              under ``servicekit.consumer.Batched``).
  raw         single-row INSERT + COMMIT on one asyncpg connection, in the same
              database just before each variant: the rate a naive ledger that commits
              every credit would get at best.
  leaderboard M members seeded in bulk (scores over the last 60 days, 20 communities),
              then the read path the API uses (``leaderboards.service.leaderboard``):
              top 100 and a member's rank, p50/p99 over Q queries per board.

Nothing asserts a timing: it prints figures and ratios.

    uv run --frozen python bench/ledger.py [--events N] [--members M] [--queries Q] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka.admin import NewTopic
from sqlalchemy import event as orm_event
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from rewards.leaderboards import service as boards
from rewards.leaderboards.api import rebuild_windows
from rewards.leaderboards.domain import TENANT_WIDE, Window, period
from rewards.orm import entries, score_days, score_totals
from rewards.rules import handlers as earning
from rewards.rules.sources import MEMBERSHIP_ACTIVATED
from servicekit import heap
from servicekit.consumer import Batched, ConsumerRunner, Handler
from servicekit.db import create_engine, read_only, session_factory, transaction
from servicekit.devbroker import DevBroker, free_port
from servicekit.events import Event
from servicekit.kafka import KafkaConfig, ensure_topics, producer
from servicekit.migrations import upgrade
from servicekit.service_cli import alembic_ini
from servicekit.tables import inbox
from servicekit.testing import fresh_database, postgres_admin_dsn, postgres_available
from servicekit.types import utcnow

TENANT = "t-bench"
PARTITIONS = 6  # as contracts/topics/onboarding.memberships.yaml
COMMUNITIES = 20
SEED_DAYS = 60
COPY_CHUNK = 20_000
STALL_S = 120.0
HISTORY = 2_000  # activations written before timing, for a database in steady state
GOAL = 2.0  # consumer credits/s over raw INSERT+COMMIT/s, at least

VARIANTS: dict[str, Mapping[str, Handler | Batched]] = {
    "per-event": {MEMBERSHIP_ACTIVATED: earning.apply_rules},
    "batched": {MEMBERSHIP_ACTIVATED: Batched(earning.apply_rules_many)},
}


def note(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


def progress(label: str, done: int, total: int, started: float) -> None:
    elapsed = time.perf_counter() - started
    rate = f"  {done / elapsed:,.0f}/s" if elapsed > 0.5 else ""
    print(f"  {label}: {done:,}/{total:,}{rate}  {elapsed:.1f}s", file=sys.stderr, flush=True)


# ------------------------------------------------------------ commit stamps


class Commits:
    """perf_counter() of every session commit while armed: when the last event landed."""

    def __init__(self) -> None:
        self.armed = False
        self.last = 0.0

    def stamp(self, _session: Session) -> None:
        if self.armed:
            self.last = time.perf_counter()


COMMITS = Commits()
orm_event.listen(Session, "after_commit", COMMITS.stamp)


# -------------------------------------------------------------------- raw


async def raw_inserts(url: str, rows: int) -> float:
    """Single-row INSERT + COMMIT per credit on one asyncpg connection: rows per second."""
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await connection.execute(
            "CREATE TABLE raw_credits (id bigserial PRIMARY KEY, member_id text NOT NULL,"
            " points bigint NOT NULL, created_at timestamp NOT NULL)"
        )
        statement = await connection.prepare(
            "INSERT INTO raw_credits (member_id, points, created_at) VALUES ($1, $2, $3)"
        )
        now = datetime.now(UTC).replace(tzinfo=None)
        started = time.perf_counter()
        for n in range(rows):
            async with connection.transaction():
                await statement.fetch(f"member-{n}", 10, now)
        return rows / (time.perf_counter() - started)
    finally:
        await connection.close()


async def raw_inserts_sqlalchemy(url: str, rows: int) -> float:
    """The same through SQLAlchemy's async engine, as the service talks to the database."""
    engine = create_engine(url, pool_size=1)
    try:
        statement = text(
            "INSERT INTO raw_credits (member_id, points, created_at) VALUES (:m, :p, :at)"
        )
        now = datetime.now(UTC).replace(tzinfo=None)
        started = time.perf_counter()
        async with engine.connect() as connection:
            for n in range(rows):
                async with connection.begin():
                    await connection.execute(statement, {"m": f"member-{n}", "p": 10, "at": now})
        return rows / (time.perf_counter() - started)
    finally:
        await engine.dispose()


# ---------------------------------------------------------------- credits


def activations(count: int) -> list[Event]:
    """Members joining paid communities (3-day refund window); every other one invited
    by an earlier member, so that referral credits land on existing wallets."""
    rng = random.Random(7)
    now = utcnow()
    found = []
    for n in range(count):
        member = f"member-{n}"
        inviter = f"member-{rng.randrange(n)}" if n and n % 2 else None
        at = now - timedelta(seconds=count - n)
        found.append(
            Event(
                type=MEMBERSHIP_ACTIVATED,
                source="/onboarding",
                tenant_id=TENANT,
                topic="onboarding.memberships",
                key=member,
                time=at,
                data={
                    "tenant_id": TENANT,
                    "membership_id": str(uuid.uuid4()),
                    "member_id": member,
                    "community_id": f"c-{n % COMMUNITIES}",
                    "tier": "core",
                    "activated_at": at.isoformat(),
                    "refund_window_ends_at": (at + timedelta(days=3)).isoformat(),
                    "source": {"kind": "invite" if inviter else "open", "inviter_id": inviter},
                },
            )
        )
    return found


async def history(sessions: async_sessionmaker[AsyncSession], url: str) -> None:
    """Another tenant's HISTORY activations, then ANALYZE: a database in steady state has
    rows and statistics. On empty, never-analyzed tables the planner guesses row counts
    and may scan a tenant's entries instead of probing the unique key (seen here)."""
    earlier = [
        replace(event, tenant_id="t-history", data={**event.data, "tenant_id": "t-history"})
        for event in activations(HISTORY)
    ]
    for chunk in range(0, HISTORY, 500):
        batch = earlier[chunk : chunk + 500]
        async with transaction(sessions) as session:
            await earning.apply_rules_many(session, batch)
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
    note(f"history: {HISTORY:,} activations of another tenant, then ANALYZE")


async def publish(config: KafkaConfig, topic: str, events: Sequence[Event]) -> None:
    await ensure_topics(config, [NewTopic(topic, PARTITIONS, 1), NewTopic(f"{topic}.dlq", 1, 1)])
    client = producer(config)
    await client.start()
    try:
        started = time.perf_counter()
        sent = [
            await client.send(
                topic,
                value=event.kafka_value(),
                key=(event.key or "").encode(),
                headers=event.kafka_headers(),
            )
            for event in events
        ]
        await asyncio.gather(*sent)
        progress("published", len(events), len(events), started)
    finally:
        await client.stop()


@dataclass(frozen=True)
class Credits:
    variant: str
    events: int
    credits: int
    seconds: float
    raw_per_s: float  # asyncpg: the baseline of the goal
    raw_sqlalchemy_per_s: float

    @property
    def per_s(self) -> float:
        return self.credits / self.seconds


async def consume(
    config: KafkaConfig,
    sessions: async_sessionmaker[AsyncSession],
    topic: str,
    handlers: Mapping[str, Handler | Batched],
    events: int,
) -> float:
    """Seconds from assignment to the commit that applied the last of ``events``."""
    dlq = producer(config)
    await dlq.start()
    runner = ConsumerRunner(
        group_id=f"{topic}-rewards",
        topics=[topic],
        handlers=handlers,
        sessions=sessions,
        kafka=config,
        dlq_producer=dlq,
    )
    task = asyncio.create_task(runner.run())
    try:
        await asyncio.wait_for(runner.assigned.wait(), timeout=60)
        started = time.perf_counter()
        COMMITS.armed = True
        await wait_for_inbox(sessions, events, started, task)
        return COMMITS.last - started
    finally:
        COMMITS.armed = False
        runner.stop()
        await task
        await dlq.stop()


async def wait_for_inbox(
    sessions: async_sessionmaker[AsyncSession],
    total: int,
    started: float,
    task: asyncio.Task[None],
) -> None:
    """Poll the inbox until every event is in it; fail on a stall or a dead runner."""
    last, moved, shown = -1, time.perf_counter(), 0.0
    while True:
        if task.done():
            task.result()
            raise RuntimeError("the consumer stopped")
        async with sessions() as session:
            done = int(await session.scalar(select(func.count()).select_from(inbox)) or 0)
        now = time.perf_counter()
        if now - shown > 2.0 or done >= total:
            progress("applied", done, total, started)
            shown = now
        if done >= total:
            return
        if done != last:
            last, moved = done, now
        elif now - moved > STALL_S:
            raise RuntimeError(f"stalled at {done}/{total} events")
        await asyncio.sleep(0.25)


async def credits_run(
    variant: str, config: KafkaConfig, workdir: Path, events: Sequence[Event], raw_rows: int
) -> Credits:
    note(f"credits, {variant}: fresh database, raw baseline, then the consumer")
    async with fresh_database("postgres", workdir) as url:
        await asyncio.to_thread(upgrade, alembic_ini("rewards"), url)
        raw = await raw_inserts(url, raw_rows)
        raw_sqlalchemy = await raw_inserts_sqlalchemy(url, raw_rows)
        note(f"raw INSERT+COMMIT: {raw:,.0f}/s asyncpg, {raw_sqlalchemy:,.0f}/s SQLAlchemy")
        topic = f"bench-{uuid.uuid4().hex[:8]}-memberships"
        await publish(config, topic, events)
        engine = create_engine(url)
        try:
            sessions = session_factory(engine)
            await history(sessions, url)
            # Rolling windows built: the credits keep them up to date, as in production.
            await rebuild_all_windows(sessions, utcnow().date())
            seconds = await consume(config, sessions, topic, VARIANTS[variant], len(events))
            async with sessions() as session:
                query = select(func.count()).where(
                    entries.c.tenant_id == TENANT, entries.c.kind == "earn"
                )
                credited = int(await session.scalar(query) or 0)
        finally:
            await engine.dispose()
    return Credits(variant, len(events), credited, seconds, raw, raw_sqlalchemy)


# ------------------------------------------------------------ leaderboard


def seed_rows(members: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Day rows and all-time rows for ``members``: a few active days each in the last
    SEED_DAYS, a long tail of small scores, each counted tenant-wide and in a community."""
    rng = random.Random(11)
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    days: list[tuple[Any, ...]] = []
    totals: list[tuple[Any, ...]] = []
    for n in range(members):
        member, community = f"member-{n:06d}", f"c-{n % COMMUNITIES}"
        total, reached = 0, datetime(1970, 1, 1)
        for ago in rng.sample(range(SEED_DAYS), rng.randint(1, 8)):
            points = int(rng.paretovariate(1.5) * 5)
            at = today - timedelta(days=ago) + timedelta(seconds=rng.randrange(86_400))
            for scope in (TENANT_WIDE, community):
                days.append((TENANT, scope, at.date(), member, points, at))
            total, reached = total + points, max(reached, at)
        for scope in (TENANT_WIDE, community):
            totals.append((TENANT, scope, member, total, reached))
    return days, totals


async def seed(url: str, members: int) -> None:
    days, totals = seed_rows(members)
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        for table, rows in ((score_days, days), (score_totals, totals)):
            started = time.perf_counter()
            columns = [column.name for column in table.columns]
            for start in range(0, len(rows), COPY_CHUNK):
                chunk = rows[start : start + COPY_CHUNK]
                await connection.copy_records_to_table(table.name, records=chunk, columns=columns)
                progress(f"seeded {table.name}", start + len(chunk), len(rows), started)
        # What autovacuum does in steady state: statistics and the visibility map.
        await connection.execute("VACUUM ANALYZE score_days")
        await connection.execute("VACUUM ANALYZE score_totals")
    finally:
        await connection.close()


@dataclass(frozen=True)
class Latency:
    query: str
    p50_ms: float
    p99_ms: float
    rows: int


async def timed(name: str, queries: int, call: Callable[[int], Awaitable[int]]) -> Latency:
    await call(0)  # warm: plans cached, connections open
    samples, rows = [], 0
    for n in range(queries):
        started = time.perf_counter()
        rows = await call(n)
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    note(f"{name}: p50 {statistics.median(samples):.1f} ms, p99 {p99:.1f} ms")
    return Latency(name, statistics.median(samples), p99, rows)


async def board_latencies(workdir: Path, members: int, queries: int) -> list[Latency]:
    note(f"leaderboard: seeding {members:,} members")
    async with fresh_database("postgres", workdir) as url:
        await asyncio.to_thread(upgrade, alembic_ini("rewards"), url)
        await seed(url, members)
        engine = create_engine(url)
        try:
            sessions = session_factory(engine)
            today = utcnow().date()
            found = [await timed_rebuild(sessions, url, today)]
            for window, scope in BOARDS:
                found += await board_queries(sessions, members, queries, window, scope, today)
            return found
        finally:
            await engine.dispose()


BOARDS = (
    (Window.DAYS_7, TENANT_WIDE),
    (Window.DAYS_30, TENANT_WIDE),
    (Window.ALL, TENANT_WIDE),
    (Window.DAYS_30, "c-3"),
    (Window.CUSTOM, TENANT_WIDE),  # this calendar month: summed from the day rows
)


async def rebuild_all_windows(sessions: async_sessionmaker[AsyncSession], today: date) -> None:
    """Every board's windows (each scope has its own day; the bench's share one zone)."""
    scopes = [TENANT_WIDE, *(f"c-{n}" for n in range(COMMUNITIES))]
    for scope in scopes:
        await rebuild_windows(sessions, TENANT, scope, today)


async def timed_rebuild(
    sessions: async_sessionmaker[AsyncSession], url: str, today: date
) -> Latency:
    """The daily rebuild of the rolling windows (both spans, every scope of the tenant)."""
    started = time.perf_counter()
    await rebuild_all_windows(sessions, today)
    ms = (time.perf_counter() - started) * 1000
    note(f"rolling windows rebuilt in {ms:,.0f} ms")
    # Autovacuum visits a table rewritten this much within its next round (a minute):
    # the boards are then read with index-only scans, as the rest of the day.
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await connection.execute("VACUUM ANALYZE score_windows")
    finally:
        await connection.close()
    return Latency("rebuild 7d+30d windows (daily)", ms, ms, 1)


async def board_queries(
    sessions: async_sessionmaker[AsyncSession],
    members: int,
    queries: int,
    window: Window,
    scope: str,
    today: date,
) -> list[Latency]:
    rng = random.Random(3)
    first, last = (today.replace(day=1), today) if window is Window.CUSTOM else (None, None)
    days = period(window, today, first, last)
    where = "tenant" if scope == TENANT_WIDE else "community"
    label = "month" if window is Window.CUSTOM else str(window)

    async def top(_: int) -> int:
        async with read_only(sessions) as session:
            board = await boards.leaderboard(
                session, TENANT, scope=scope, period=days, limit=100, member_id=None, today=today
            )
        assert not board.stale_windows, "windows were rebuilt for today"
        return len(board.top)

    async def mine(_: int) -> int:
        member = f"member-{rng.randrange(members):06d}"
        async with read_only(sessions) as session:
            board = await boards.leaderboard(
                session, TENANT, scope=scope, period=days, limit=1, member_id=member, today=today
            )
        return board.me.rank if board.me else 0

    return [
        await timed(f"top 100, {label}, {where}", queries, top),
        await timed(f"my rank, {label}, {where}", queries, mine),
    ]


# ------------------------------------------------------------------ output


def report(credits: Sequence[Credits], latencies: Sequence[Latency], members: int) -> None:
    print("\nCredits through the consumer path (PostgreSQL, dev broker, ConsumerRunner)\n")
    print(
        f"{'variant':<10} {'events':>7} {'credits':>8} {'seconds':>8} {'credits/s':>10}"
        f" {'raw/s':>7} {'ratio':>6} {'raw SA/s':>9}  goal: ratio ≥ {GOAL:.0f}×"
    )
    for run in credits:
        ratio = run.per_s / run.raw_per_s
        verdict = "met" if ratio >= GOAL else "missed"
        print(
            f"{run.variant:<10} {run.events:>7,} {run.credits:>8,} {run.seconds:>8.2f}"
            f" {run.per_s:>10,.0f} {run.raw_per_s:>7,.0f} {ratio:>5.2f}×"
            f" {run.raw_sqlalchemy_per_s:>9,.0f}  {verdict}"
        )
    print("raw/s: single-row INSERT+COMMIT, one asyncpg connection, same database, same run")
    print("raw SA/s: the same through SQLAlchemy")
    print(f"\nLeaderboards with {members:,} members (PostgreSQL, leaderboards.service)\n")
    print(f"{'query':<32} {'p50 ms':>8} {'p99 ms':>8}")
    for latency in latencies:
        print(f"{latency.query:<32} {latency.p50_ms:>8.1f} {latency.p99_ms:>8.1f}")


async def run(args: argparse.Namespace, workdir: Path) -> None:
    if not await postgres_available():
        raise SystemExit(f"PostgreSQL unreachable at {postgres_admin_dsn()}")
    events = activations(args.events)
    credits = []
    with DevBroker(port=free_port(), log_path=workdir / "broker.log") as broker:
        config = KafkaConfig(bootstrap_servers=broker.bootstrap_servers)
        for variant in args.variants:
            credits.append(await credits_run(variant, config, workdir, events, args.raw))
    latencies = await board_latencies(workdir, args.members, args.queries)
    report(credits, latencies, args.members)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=10_000, help="activations to apply")
    parser.add_argument("--raw", type=int, default=3_000, help="raw INSERT+COMMIT rows")
    parser.add_argument("--members", type=int, default=100_000, help="leaderboard members")
    parser.add_argument("--queries", type=int, default=200, help="queries per board")
    parser.add_argument(
        "--variants", default=",".join(VARIANTS), help=f"comma-separated of {', '.join(VARIANTS)}"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, about a minute")
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.raw, args.members, args.queries = 2_000, 1_000, 20_000, 50
    args.variants = [v for v in args.variants.split(",") if v]
    unknown = set(args.variants) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variants: {', '.join(sorted(unknown))}")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    heap.settle(heap.DEFAULT_GEN0_THRESHOLD)  # as the rewards service's process runs
    with tempfile.TemporaryDirectory(prefix="quanzi-bench-ledger-") as workdir:
        asyncio.run(run(args, Path(workdir)))


if __name__ == "__main__":
    main()
