"""Insights benchmark: events applied per second through the consumer path beside a raw
consumer in the same run, and the health summary's latency for a big tenant.

On PostgreSQL, in fresh databases, against a dev broker started for the run:

  apply     N events of every kind insights reads (a tenth membership activations with
            their routing-code source, then posts, check-ins, quizzes and ledger entries,
            spread over ``--communities`` communities of one tenant) are published
            first; the real ``ConsumerRunner`` then applies them with insights' fact
            handlers (facts, memberships, presences, silence timers). Timed from the
            group's assignment to the commit that applied the last event.
  raw       a bare aiokafka consumer reading the same records (assigned, no group, no
            database): the rate at which a consumer can receive them at all.
  summary   a tenant with ``--communities`` communities and a year of facts (members
            joining, ``--daily`` engagements a day per community), loaded with COPY;
            then ``GET /v1/insights/summary`` (every community's health today) through
            the app over ASGI as the owner, p50/p99 over Q queries, beside a raw indexed
            read of the same 30 days' engagement rows on asyncpg.

Nothing asserts a timing: it prints figures and ratios (goal: apply/raw ≥ 0.3).

    uv run --frozen python bench/insights.py [--events N] [--communities C] [--daily D]
                                             [--queries Q] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.remove(os.path.dirname(os.path.abspath(__file__)))

import asyncpg
import httpx
from aiokafka import TopicPartition
from sqlalchemy import event as orm_event
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from insights import app as insights_app
from insights.settings import Settings
from servicekit.consumer import ConsumerRunner
from servicekit.contracts import Registry
from servicekit.db import create_engine, session_factory
from servicekit.devbroker import DevBroker, free_port
from servicekit.events import Event, new_event
from servicekit.kafka import KafkaConfig, consumer, contract_topics, ensure_topics, producer
from servicekit.migrations import upgrade
from servicekit.service_cli import alembic_ini
from servicekit.tables import inbox
from servicekit.testing import TokenMint, fresh_database, postgres_available

TENANT = "t-bench"
TOPICS = ["onboarding.memberships", "content.posts", "activities.campaigns", "rewards.points"]
GOAL = 0.3
STALL_S = 120.0
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def note(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


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


# ------------------------------------------------------------------ events


def _event(type_: str, topic: str, key: str, data: dict[str, Any]) -> Event:
    return new_event(
        type=type_,
        source="/bench",
        tenant_id=TENANT,
        topic=topic,
        data={"tenant_id": TENANT, **data},
        key=key,
    )


def events(count: int, communities: int) -> list[Event]:
    rnd = random.Random(15)
    members = max(count // 10, 1)
    out = []
    for i in range(members):
        at = T0 + timedelta(minutes=i)
        community = f"c-{i % communities}"
        out.append(
            _event(
                "quanzi.onboarding.membership.activated.v1",
                "onboarding.memberships",
                f"m-{i}",
                {
                    "membership_id": f"ms-{i}",
                    "member_id": f"m-{i}",
                    "community_id": community,
                    "group_id": "g-1",
                    "tier": "core",
                    "activated_at": at.isoformat(),
                    "term_ends_at": (at + timedelta(days=365)).isoformat(),
                    "refund_window_ends_at": None,
                    "trial_ends_at": None,
                    "previous_tier": None,
                    "source": {"kind": "routing_code", "code": f"R{i % 7}", "channel": "poster"},
                },
            )
        )
    for n in range(count - members):
        i = rnd.randrange(members)
        member, community = f"m-{i}", f"c-{i % communities}"
        stamp = (T0 + timedelta(minutes=n % 500_000)).isoformat()
        kind = n % 4
        if kind == 0:
            data = {
                "post_id": f"p-{n}",
                "author_id": member,
                "author_kind": "member",
                "community_ids": [community],
                "tenant_wide": False,
                "kind": "text",
                "pinned": False,
                "tags": [],
                "published_at": stamp,
            }
            out.append(_event("quanzi.content.post.published.v1", "content.posts", member, data))
        elif kind == 1:
            data = {
                "checkin_id": f"k-{n}",
                "challenge_id": "ch",
                "community_id": community,
                "group_id": None,
                "member_id": member,
                "day": stamp[:10],
                "make_up": False,
                "streak": 1,
                "total_days": 1,
                "checked_at": stamp,
            }
            out.append(
                _event(
                    "quanzi.activities.checkin.recorded.v1", "activities.campaigns", member, data
                )
            )
        elif kind == 2:
            data = {
                "quiz_id": "q",
                "attempt_id": f"a-{n}",
                "community_id": community,
                "member_id": member,
                "score": 80,
                "correct_answers": 4,
                "total_questions": 5,
                "passed": True,
                "completed_at": stamp,
            }
            out.append(
                _event("quanzi.activities.quiz.completed.v1", "activities.campaigns", member, data)
            )
        else:
            data = {
                "member_id": member,
                "entry_key": f"e-{n}",
                "kind": "earn",
                "points": 2,
                "available_delta": 2,
                "pending_delta": 0,
                "lifetime_delta": 2,
                "debt_delta": 0,
                "community_id": community,
                "rule_id": "daily-check-in",
                "rule_version": 1,
                "cause": None,
                "reason": None,
                "occurred_at": stamp,
                "balance": {"available": 2, "pending": 0, "lifetime": 2, "debt": 0, "level": 1},
            }
            out.append(_event("quanzi.rewards.points.credited.v1", "rewards.points", member, data))
    return out


async def publish(config: KafkaConfig, batch: Sequence[Event]) -> None:
    await ensure_topics(config, contract_topics(Registry.load(), set(TOPICS)))
    client = producer(config)
    await client.start()
    try:
        sent = [
            await client.send(
                e.topic,
                value=e.kafka_value(),
                key=(e.key or "").encode(),
                headers=e.kafka_headers(),
            )
            for e in batch
        ]
        await asyncio.gather(*sent)
    finally:
        await client.stop()
    note(f"published {len(batch):,} events")


async def raw_rate(config: KafkaConfig, total: int) -> float:
    """Records per second a bare consumer receives the same records at."""
    client = consumer(config, group_id=None)
    await client.start()
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in TOPICS
            for p in (client.partitions_for_topic(topic) or {0})
        ]
        client.assign(partitions)
        await client.seek_to_beginning(*partitions)
        started, seen = time.perf_counter(), 0
        while seen < total:
            batches = await client.getmany(timeout_ms=500, max_records=500)
            seen += sum(len(part) for part in batches.values())
        return seen / (time.perf_counter() - started)
    finally:
        await client.stop()


async def apply_rate(config: KafkaConfig, url: str, total: int) -> float:
    engine = create_engine(url)
    sessions = session_factory(engine)
    dlq = producer(config)
    await dlq.start()
    runner = ConsumerRunner(
        group_id="bench-insights.facts",
        topics=TOPICS,
        handlers=insights_app.FACTS.handlers,
        sessions=sessions,
        kafka=config,
        dlq_producer=dlq,
    )
    task = asyncio.create_task(runner.run())
    try:
        await asyncio.wait_for(runner.assigned.wait(), timeout=60)
        started = time.perf_counter()
        COMMITS.armed = True
        last, moved = -1, time.perf_counter()
        while True:
            if task.done():
                task.result()
                raise RuntimeError("the consumer stopped")
            async with sessions() as session:
                done = int(await session.scalar(select(func.count()).select_from(inbox)) or 0)
            if done >= total:
                break
            if done != last:
                last, moved = done, time.perf_counter()
            elif time.perf_counter() - moved > STALL_S:
                raise RuntimeError(f"stalled at {done}/{total}")
            await asyncio.sleep(0.25)
        return total / (COMMITS.last - started)
    finally:
        COMMITS.armed = False
        runner.stop()
        await task
        await dlq.stop()
        await engine.dispose()


# ------------------------------------------------------------------ summary


async def seed(url: str, communities: int, daily: int, today: date) -> int:
    """A year of facts for the tenant, by COPY: 50 members per community joining over the
    year, ``daily`` engagements per community and day."""
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(dsn)
    rnd = random.Random(7)
    try:
        rows_c = [(TENANT, f"c-{c}", f"社群 {c}", "Asia/Shanghai") for c in range(communities)]
        await connection.copy_records_to_table(
            "insights_communities",
            records=rows_c,
            columns=["tenant_id", "community_id", "name", "timezone"],
        )
        first = today - timedelta(days=364)
        memberships, member_events, engaged, presence = [], [], [], []
        for c in range(communities):
            for m in range(50):
                day = first + timedelta(days=rnd.randrange(365))
                at = datetime.combine(day, datetime.min.time())  # naive UTC, as stored
                mid = f"ms-{c}-{m}"
                memberships.append(
                    (
                        TENANT,
                        mid,
                        f"c-{c}",
                        f"m-{c}-{m}",
                        at,
                        day,
                        "routing_code",
                        "R",
                        "poster",
                        True,
                        at,
                    )
                )
                member_events.append((TENANT, mid, "joined", at, f"c-{c}", f"m-{c}-{m}", day))
                presence.append((TENANT, f"c-{c}", f"m-{c}-{m}", at, True, None))
            for d in range(365):
                day = first + timedelta(days=d)
                at = datetime.combine(day, datetime.min.time()) + timedelta(hours=2)
                for n in range(daily):
                    member = f"m-{c}-{rnd.randrange(50)}"
                    engaged.append((TENANT, "post", f"p-{c}-{d}-{n}", f"c-{c}", member, at, day))
        await connection.copy_records_to_table(
            "insights_memberships",
            records=memberships,
            columns=[
                "tenant_id",
                "membership_id",
                "community_id",
                "member_id",
                "joined_at",
                "join_day",
                "source_kind",
                "source_code",
                "channel",
                "active",
                "status_at",
            ],
        )
        await connection.copy_records_to_table(
            "insights_membership_events",
            records=member_events,
            columns=[
                "tenant_id",
                "membership_id",
                "kind",
                "at",
                "community_id",
                "member_id",
                "day",
            ],
        )
        await connection.copy_records_to_table(
            "insights_engagements",
            records=engaged,
            columns=["tenant_id", "kind", "ref", "community_id", "member_id", "at", "day"],
        )
        await connection.copy_records_to_table(
            "insights_presence",
            records=presence,
            columns=[
                "tenant_id",
                "community_id",
                "member_id",
                "last_engaged_at",
                "active",
                "silent_since",
            ],
        )
        await connection.execute("ANALYZE")
        return len(engaged)
    finally:
        await connection.close()


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered), p99


async def summary_latency(url: str, queries: int, today: date) -> dict[str, tuple[float, float]]:
    mint = TokenMint()
    settings = Settings(
        database_url=url,
        kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",
        jwks_json=json.dumps(mint.jwks()),
        timers_enabled=False,
        consumers_enabled=False,
    )
    app = insights_app.create_app(settings)
    now = datetime.combine(today, datetime.min.time(), UTC) + timedelta(hours=6)
    app.state.clock = lambda: now
    token = mint.mint(tenant_id=TENANT, subject="owner", roles=["owner"])
    headers = {"Authorization": f"Bearer {token}"}
    out = {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://i") as client:
            samples = []
            for _ in range(queries):
                started = time.perf_counter()
                answer = await client.get("/v1/insights/summary", headers=headers)
                samples.append(time.perf_counter() - started)
                assert answer.status_code == 200, answer.text
            out["GET /summary (200 communities)"] = percentiles(samples)
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(dsn)
    try:
        statement = await connection.prepare(
            "SELECT community_id, member_id, day FROM insights_engagements"
            " WHERE tenant_id = $1 AND day >= $2"
        )
        samples = []
        for _ in range(queries):
            started = time.perf_counter()
            await statement.fetch(TENANT, today - timedelta(days=29))
            samples.append(time.perf_counter() - started)
        out["raw: 30 days of engagement rows"] = percentiles(samples)
    finally:
        await connection.close()
    return out


async def run(args: argparse.Namespace, workdir: Path) -> None:
    if not await postgres_available():
        raise SystemExit("PostgreSQL is needed (127.0.0.1:5432)")
    with DevBroker(port=free_port(), log_path=workdir / "broker.log") as broker:
        config = KafkaConfig(bootstrap_servers=broker.bootstrap_servers)
        batch = events(args.events, args.communities)
        await publish(config, batch)
        raw = await raw_rate(config, len(batch))
        note(f"raw consumer: {raw:,.0f} records/s")
        async with fresh_database("postgres", workdir / "apply") as url:
            await asyncio.to_thread(upgrade, alembic_ini("insights"), url)
            applied = await apply_rate(config, url, len(batch))
        note(f"insights: {applied:,.0f} events/s")
    today = date(2026, 12, 1)
    async with fresh_database("postgres", workdir / "summary") as url:
        await asyncio.to_thread(upgrade, alembic_ini("insights"), url)
        rows = await seed(url, args.communities, args.daily, today)
        note(f"seeded {rows:,} engagement rows over a year, {args.communities} communities")
        latencies = await summary_latency(url, args.queries, today)
    print("\nInsights (PostgreSQL, dev broker)\n")
    ratio = applied / raw
    verdict = "ok" if ratio >= GOAL else "below goal"
    print(
        f"events applied: {applied:>9,.0f}/s   raw consumer: {raw:>9,.0f}/s   "
        f"ratio {ratio:.2f}× (goal ≥ {GOAL}×) {verdict}   ({len(batch):,} events)"
    )
    for name, (p50, p99) in latencies.items():
        print(f"{name:<36} p50 {p50 * 1000:7.1f} ms   p99 {p99 * 1000:7.1f} ms")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--communities", type=int, default=200)
    parser.add_argument("--daily", type=int, default=10, help="engagements/community/day")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="small figures, a quick look")
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.daily, args.queries = 4_000, 4, 30
    return args


def main(argv: Sequence[str] | None = None) -> None:
    logging.basicConfig(level=logging.WARNING)
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="insights-bench-") as workdir:
        asyncio.run(run(args, Path(workdir)))


if __name__ == "__main__":
    main()
