"""Capacity model: from the benchmarks' measured per-operation costs and a traffic model to
replicas, partitions, PostgreSQL and Kafka figures for 10, 1,000 and 10,000 tenants.

Nothing is measured here: the costs are named constants below, each with the benchmark it
comes from (bench/README.md), or marked as an estimate. ``--costs FILE`` (repeatable)
overrides them from a JSON file: a flat ``{"name": value}`` object (names from ``COSTS``),
or a result file the benchmarks write to ``bench/results/`` (``onboarding-*.json``: CPU ms
per join by service; ``pipeline-*.json``: the relay's and the consumer's CPU per event on
PostgreSQL). The traffic model's knobs are flags. docs/capacity.md holds the output and the
reasoning; recompute it when the benchmarks change:

    uv run --frozen python bench/scale_model.py                       # the three scenarios
    uv run --frozen python bench/scale_model.py --costs bench/results/onboarding-<stamp>.json
    uv run --frozen python bench/scale_model.py --tenants 50 --peak-factor 4 --burst-joins 50000
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

SERVICES = ("gateway", "onboarding", "content", "activities", "rewards")
# Services added after the model's costs were measured: their consumers are left out of the
# topics below until bench/onboarding.py's CPU per join includes them (it does from the
# session that added them; docs/capacity.md, "What the model leaves out").
NOT_MODELLED = ("insights", "integrations")
DAY_S = 86_400.0


@dataclass(frozen=True)
class Cost:
    value: float
    unit: str
    source: str


# ---------------------------------------------------------------- measured costs

COSTS: dict[str, Cost] = {
    # bench/onboarding.py, `--joins 1000 --connections 32`, bench/README.md ("Figures at the end
    # of the session..."): CPU of each service's processes while the joins ran, ÷ joins. It holds
    # the whole join: admission and proxy, the transaction, the relays, every consumer and the
    # join bonus credited by rewards.
    "join_ms.gateway": Cost(1.4, "CPU ms/join", "bench/onboarding.py"),
    "join_ms.onboarding": Cost(6.8, "CPU ms/join", "bench/onboarding.py"),
    "join_ms.content": Cost(2.6, "CPU ms/join", "bench/onboarding.py"),
    "join_ms.activities": Cost(0.7, "CPU ms/join", "bench/onboarding.py"),
    "join_ms.rewards": Cost(2.3, "CPU ms/join", "bench/onboarding.py"),
    # bench/ledger.py, full default run, batched handler: 737 credits/s with the consumer
    # process on one core (an upper bound on its CPU: the process also waits for PostgreSQL).
    "credit_ms": Cost(1000 / 737, "rewards CPU ms/credit", "bench/ledger.py (737 credits/s)"),
    "credit_rows": Cost(19, "row writes/credit", "bench/README.md, ledger: ~19 row writes"),
    # The gateway's CPU per proxied request: the join's figure (admission + proxy), which the
    # gateway benchmark splits as ~0.45 ms bare proxy + 0.17 ms JWT + the rest.
    "gateway_ms": Cost(1.4, "CPU ms/request", "bench/onboarding.py (gateway per join)"),
    # bench/pipeline.py on PostgreSQL, `--events 5000 --seconds 2 --rate 500 --backends
    # postgres`, machine shared (load average 12 on 2 cores): the relay's CPU share ÷ its rate,
    # the consumer's (inbox, 455 records per transaction) CPU share ÷ its rate, and the two
    # rates. One relay publishes for a whole service (it holds the advisory lock), so its rate
    # is the service's publishing ceiling; one consumer process applies one partition.
    "relay_ms_per_event": Cost(0.055, "CPU ms/event", "bench/pipeline.py (relay_cpu_share)"),
    "consume_ms_per_event": Cost(0.12, "CPU ms/event", "bench/pipeline.py (consumer_cpu_share)"),
    "relay_events_s": Cost(2772, "events/s, one relay", "bench/pipeline.py (relay_per_second)"),
    "consumer_events_s": Cost(1740, "events/s, one consumer", "bench/pipeline.py (per_second)"),
    # bench/content.py: `GET /feed` first page p50 26.7 ms, of which the raw index read is
    # 17.2 ms (machine shared with three sessions: both are upper bounds).
    "feed_ms": Cost(26.7 - 17.2, "content CPU ms/page", "bench/content.py (feed − raw read)"),
    "feed_db_ms": Cost(17.2, "PostgreSQL ms/page", "bench/content.py (raw feed SELECT p50)"),
    # bench/content.py: publish to one community, p50, one process calling the app in turn.
    "post_ms": Cost(12.3, "content CPU ms/post", "bench/content.py (publish p50)"),
    # bench/ledger.py, full run: top 100 tenant-wide p50 4.2 ms, my rank 30d 18.5 ms; the mix
    # below reads top 100 three times for each rank.
    "leaderboard_db_ms": Cost(
        (3 * 4.2 + 18.5) / 4, "PostgreSQL ms/read", "bench/ledger.py (leaderboards)"
    ),
    # Not measured: estimates from the join's breakdown (bench/README.md, onboarding: FastAPI
    # and middleware ~1.5 ms, ~0.4 ms per statement through SQLAlchemy).
    "read_ms": Cost(2.0, "service CPU ms/read", "estimate: 1.5 ms framework + 1 statement"),
    "read_db_ms": Cost(0.5, "PostgreSQL ms/read", "estimate: one index read"),
    "checkin_ms": Cost(3.5, "activities CPU ms/check-in", "estimate: 1.5 ms + 5 statements"),
    "mint_ms": Cost(2.5, "gateway CPU ms/token", "estimate: key lookup, Ed25519 sign, outbox"),
    "directory_ms": Cost(0.5, "onboarding CPU ms/upsert", "estimate: batched upsert"),
    "db_ms_per_row": Cost(0.02, "PostgreSQL ms/row write", "estimate: WAL, index, vacuum"),
    # Sizes. Record: CloudEvents headers (~400 B) + JSON data (contracts/examples: 200–1,700 B).
    "record_bytes": Cost(900, "bytes/record", "estimate from contracts/examples"),
    "row_bytes": Cost(250, "bytes/durable row", "estimate: heap row + its index entries"),
    "inbox_row_bytes": Cost(210, "bytes/inbox row", "servicekit.tables.inbox, never purged"),
    "outbox_row_bytes": Cost(1200, "bytes/outbox row", "record + row overhead, kept 24 h"),
}


def load_costs(paths: Sequence[Path]) -> dict[str, float]:
    """The named costs, overridden in order by each file (flat or a benchmark's result)."""
    costs = {name: cost.value for name, cost in COSTS.items()}
    for path in paths:
        costs.update(costs_from(json.loads(path.read_text())))
    return costs


def costs_from(document: Mapping[str, Any]) -> dict[str, float]:
    """What a JSON document says about the named costs; unknown names are refused."""
    if "cpu_ms_per_join" in document:  # bench/onboarding.py
        found = {f"join_ms.{s}": float(ms) for s, ms in document["cpu_ms_per_join"].items()}
        found = {name: ms for name, ms in found.items() if name in COSTS}
        if "join_ms.gateway" in found:
            found["gateway_ms"] = found["join_ms.gateway"]
        return found
    if "details" in document and "figures" in document:  # bench/pipeline.py
        ours = document["details"].get("postgres", {}).get("throughput", {}).get("ours")
        if not ours:
            return {}
        return {
            "relay_ms_per_event": 1000 * ours["relay_cpu_share"] / ours["relay_per_second"],
            "consume_ms_per_event": 1000 * ours["consumer_cpu_share"] / ours["per_second"],
            "relay_events_s": ours["relay_per_second"],
            "consumer_events_s": ours["per_second"],
        }
    unknown = sorted(set(document) - set(COSTS))
    if unknown:
        raise ValueError(f"unknown cost names: {', '.join(unknown)}")
    return {name: float(value) for name, value in document.items()}


# ---------------------------------------------------------------- topics


# contracts/topics/*.yaml: what keys each topic and how long it keeps records
# (tests/integration/test_scale_model.py checks these against the registry).
@dataclass(frozen=True)
class Topic:
    key: str
    partitions: int
    retention_days: float
    consumers: tuple[str, ...]


TOPICS: dict[str, Topic] = {
    "gateway.members": Topic("external_id", 6, 7, ("onboarding",)),
    "onboarding.memberships": Topic("member_id", 6, 30, ("rewards", "activities", "content")),
    "activities.campaigns": Topic("member_id", 6, 30, ("rewards",)),
    "content.posts": Topic("member_id", 6, 30, ("rewards",)),
    "rewards.points": Topic("member_id", 6, 30, ("onboarding", "activities", "content")),
}


# ---------------------------------------------------------------- operations


@dataclass(frozen=True)
class Operation:
    """What one operation costs each service, its database and the broker."""

    cpu_ms: Mapping[str, float]  # service → CPU ms
    db_ms: Mapping[str, float] = field(default_factory=dict)  # service → PostgreSQL ms
    write_txns: Mapping[str, float] = field(default_factory=dict)  # service → transactions
    row_writes: Mapping[str, float] = field(default_factory=dict)  # service → row writes
    durable_rows: Mapping[str, float] = field(default_factory=dict)  # service → rows kept
    events: Mapping[str, float] = field(default_factory=dict)  # topic → records
    # consumers that apply the records (the others skip them by their type header)
    applied_by: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def _add(*parts: Mapping[str, float]) -> dict[str, float]:
    total: dict[str, float] = {}
    for part in parts:
        for name, value in part.items():
            total[name] = total.get(name, 0.0) + value
    return total


def _backbone(
    c: Mapping[str, float], producer: str, events: Mapping[str, float]
) -> dict[str, float]:
    """The relay's CPU for the records, and the inbox work of each of their topics' consumers
    (for the operations that use it, every consumer of the topic applies the records)."""
    cpu = {producer: c["relay_ms_per_event"] * sum(events.values())}
    for topic, count in events.items():
        for consumer in TOPICS[topic].consumers:
            cpu = _add(cpu, {consumer: c["consume_ms_per_event"] * count})
    return cpu


def operations(c: Mapping[str, float]) -> dict[str, Operation]:
    """The operations of the traffic model, priced with the costs ``c``. Transactions, row
    counts and the small PostgreSQL times written as numbers here are estimates read off the
    use cases' statements (docs/capacity.md, "Assumptions")."""
    gw = {"gateway": c["gateway_ms"]}
    join_events = {"onboarding.memberships": 2.0, "rewards.points": 1.5}
    checkin_events = {"activities.campaigns": 1.0}
    post_events = {"content.posts": 2.0}  # published, then approved (or held and approved)
    mint_events = {"gateway.members": 1.0}
    credit_events = {"rewards.points": 1.0}
    return {
        # Measured end to end (every service's CPU while the joins ran).
        "join": Operation(
            cpu_ms={s: c[f"join_ms.{s}"] for s in SERVICES},
            db_ms={"onboarding": 1.0},
            write_txns={"onboarding": 1.0},
            row_writes={"onboarding": 6.0, "rewards": 1.5 * c["credit_rows"]},
            durable_rows={"onboarding": 2.0, "rewards": 1.5 * 6, "content": 1, "activities": 1},
            events=join_events,
            applied_by={"onboarding.memberships": ("rewards", "activities", "content")},
        ),
        "mint": Operation(  # a member token minted with the tenant's API key (an app open)
            cpu_ms=_add(
                {"gateway": c["mint_ms"], "onboarding": c["directory_ms"]},
                _backbone(c, "gateway", mint_events),
            ),
            write_txns={"gateway": 1.0},
            row_writes={"gateway": 1.0, "onboarding": 1.0},
            events=mint_events,
            applied_by={"gateway.members": ("onboarding",)},
        ),
        "feed": Operation(
            cpu_ms=_add(gw, {"content": c["feed_ms"]}), db_ms={"content": c["feed_db_ms"]}
        ),
        "leaderboard": Operation(
            cpu_ms=_add(gw, {"rewards": c["read_ms"]}), db_ms={"rewards": c["leaderboard_db_ms"]}
        ),
        "read": Operation(  # me, memberships, a post, a challenge: one keyed read
            cpu_ms=_add(gw, {"onboarding": c["read_ms"]}), db_ms={"onboarding": c["read_db_ms"]}
        ),
        "checkin": Operation(
            cpu_ms=_add(
                gw, {"activities": c["checkin_ms"]}, _backbone(c, "activities", checkin_events)
            ),
            db_ms={"activities": 1.0},
            write_txns={"activities": 1.0},
            row_writes={"activities": 4.0},
            durable_rows={"activities": 2.0},
            events=checkin_events,
            applied_by={"activities.campaigns": ("rewards",)},
        ),
        "post": Operation(  # a post or a comment
            cpu_ms=_add(gw, {"content": c["post_ms"]}, _backbone(c, "content", post_events)),
            db_ms={"content": 2.0},
            write_txns={"content": 2.0},
            row_writes={"content": 6.0},
            durable_rows={"content": 4.0 + 20},  # the post, its community rows, search grams
            events=post_events,
            applied_by={"content.posts": ("rewards",)},
        ),
        # Consumed by rewards; the consumer's measured rate holds its inbox work.
        "credit": Operation(
            cpu_ms={"rewards": c["credit_ms"] + c["relay_ms_per_event"]},
            write_txns={"rewards": 0.0},  # batched: one per consumer_batch records applied
            row_writes={"rewards": c["credit_rows"]},
            durable_rows={"rewards": 6.0},  # entry, lot, day rows; upserts mostly update
            events=credit_events,
            applied_by={"rewards.points": ()},  # onboarding reads only level.changed
        ),
    }


# ---------------------------------------------------------------- traffic


@dataclass(frozen=True)
class Traffic:
    tenants: int
    communities_per_tenant: int = 200
    members_per_tenant: int = 100_000
    daily_active_share: float = 0.20  # DAU ÷ members
    peak_factor: float = 3.0  # the peak hour's rate ÷ the day's average rate
    # per active member per day
    app_opens: float = 3.0  # a member token minted by the tenant's backend each
    feed_pages: float = 10.0
    leaderboard_reads: float = 2.0
    other_reads: float = 10.0
    checkins: float = 0.6
    posts: float = 0.4  # posts and comments
    credits: float = 1.2  # every cause but the joins (their credits are in the join's cost)
    # joins: a share of the members a day, plus livestream bursts on one routing code each
    joins_share: float = 0.005
    burst_joins: int = 20_000
    burst_minutes: float = 10.0
    bursting_share: float = 0.01  # of tenants bursting in the same peak hour (at least one)
    # sizing
    target_utilisation: float = 0.6  # of a replica's core at peak (the HPA scales at 0.7)
    cores_per_replica: float = 1.0  # one Python process per replica
    min_replicas: int = 2
    consumer_batch: float = 50.0  # records applied per consumer transaction at peak

    @property
    def members(self) -> int:
        return self.tenants * self.members_per_tenant

    @property
    def communities(self) -> int:
        return self.tenants * self.communities_per_tenant

    @property
    def bursting_tenants(self) -> int:
        return max(1, round(self.tenants * self.bursting_share))

    @property
    def burst_rate(self) -> float:
        """Joins/s on one routing code during a tenant's livestream burst."""
        return self.burst_joins / (self.burst_minutes * 60)

    def daily(self) -> dict[str, float]:
        active = self.members * self.daily_active_share
        return {
            "join": self.members * self.joins_share,
            "mint": active * self.app_opens,
            "feed": active * self.feed_pages,
            "leaderboard": active * self.leaderboard_reads,
            "read": active * self.other_reads,
            "checkin": active * self.checkins,
            "post": active * self.posts,
            "credit": active * self.credits,
        }

    def peak(self) -> dict[str, float]:
        """Operations/s in the peak hour, the bursts' joins added."""
        rates = {op: n / DAY_S * self.peak_factor for op, n in self.daily().items()}
        rates["join"] += self.bursting_tenants * self.burst_rate
        return rates


# ---------------------------------------------------------------- the plan

# Where one PostgreSQL primary stops being comfortable (assumptions, docs/capacity.md).
PG_WRITE_TPS = 5_000.0  # write transactions/s, synchronous standby, group commit
PG_ROW_WRITES = 50_000.0  # rows written/s (WAL, index maintenance, autovacuum keeping up)
PG_CORES = 32.0  # PostgreSQL CPU a primary gives the workload (a 64-vCPU machine at half)
PG_NODE_TB = 2.0  # data per node before vacuum, backups and restores get long
PG_POOL = 2 * 10  # connections a replica may open: 2 × DATABASE_POOL_SIZE (default 10)
# Kafka
BROKER_WRITE_MBS = 50.0  # MB/s written per broker (replication included), with headroom
BROKER_DISK_TB = 8.0
BROKER_PARTITIONS = 4_000  # partition replicas per broker
REPLICATION = 3
NICE_PARTITIONS = (6, 12, 24, 48, 96, 192, 384, 768, 1536)
SKIP_MS = 0.05  # a consumer's CPU per record it skips by its type header (estimate)
PLANNING_YEARS = 1.0


@dataclass(frozen=True)
class ServicePlan:
    cores: float  # CPU at peak
    replicas: int
    connections: int  # to PostgreSQL, at that replica count
    relay_load: float  # share of one relay's measured rate (one relay per service)
    write_tps: float
    row_writes: float
    db_cores: float
    storage_gb_day: float
    storage_tb_year: float
    database: str


@dataclass(frozen=True)
class TopicPlan:
    events_s: float
    partitions: int
    key: str
    write_mbs: float  # into the cluster, replication included
    read_mbs: float  # out to every consumer group
    storage_tb: float  # at full retention, replication included


@dataclass(frozen=True)
class Plan:
    traffic: Traffic
    operations_s: dict[str, float]
    api_requests_s: float
    events_s: float
    burst_onboarding_cores: float  # one livestream burst's share of onboarding
    services: dict[str, ServicePlan]
    topics: dict[str, TopicPlan]
    brokers: int


def nice_partitions(needed: float, floor: int) -> int:
    """The smallest count of NICE_PARTITIONS covering ``needed``: counts that divide into one
    another, so a later increase is a planned doubling (keys move once, in one step)."""
    for count in NICE_PARTITIONS:
        if count >= max(needed, floor):
            return count
    return math.ceil(max(needed, floor))


def database_path(write_tps: float, row_writes: float, db_cores: float, tb_year: float) -> str:
    """What one service's PostgreSQL becomes at these figures (thresholds above)."""
    write_bound = write_tps > PG_WRITE_TPS or row_writes > PG_ROW_WRITES
    nodes = max(write_tps / PG_WRITE_TPS, row_writes / PG_ROW_WRITES, tb_year / PG_NODE_TB)
    if write_bound or nodes > 4:
        workers = math.ceil(max(nodes, db_cores / PG_CORES, 2))
        return f"Citus by tenant_id, {workers} workers"
    path = "partitioned by tenant" if tb_year > PG_NODE_TB else "one primary"
    if db_cores > PG_CORES:
        path += f" + {math.ceil(db_cores / PG_CORES) - 1} read replicas"
    return path


def producer(topic: str) -> str:
    return topic.split(".", 1)[0]


def appliers(ops: Mapping[str, Operation], topic: str) -> set[str]:
    """The services that apply the topic's records (the other consumers skip them)."""
    return {s for op in ops.values() for s in op.applied_by.get(topic, ())}


def per_record_ms(
    ops: Mapping[str, Operation], topic: str, consumer: str, c: Mapping[str, float]
) -> float:
    """CPU ms one consumer spends per record of the topic, in order, on one partition."""
    if consumer not in appliers(ops, topic):
        return SKIP_MS
    if topic == "onboarding.memberships":  # the join's measured cost, over its two records
        return c[f"join_ms.{consumer}"] / 2
    if topic in ("activities.campaigns", "content.posts"):  # each becomes a credit
        return c["credit_ms"] + c["consume_ms_per_event"]
    return c["consume_ms_per_event"] + c["directory_ms"]


def plan(traffic: Traffic, costs: Mapping[str, float]) -> Plan:
    ops = operations(costs)
    peak = traffic.peak()
    daily = traffic.daily()
    daily["join"] += traffic.bursting_tenants * traffic.burst_joins

    def total(attribute: str, service: str, rates: Mapping[str, float]) -> float:
        per_op: dict[str, Mapping[str, float]] = {o: getattr(ops[o], attribute) for o in ops}
        return sum(rates[o] * per_op[o].get(service, 0.0) for o in ops)

    events = {t: sum(peak[o] * ops[o].events.get(t, 0.0) for o in ops) for t in TOPICS}
    events_day = {t: sum(daily[o] * ops[o].events.get(t, 0.0) for o in ops) for t in TOPICS}

    services: dict[str, ServicePlan] = {}
    for s in SERVICES:
        applied = sum(events[t] for t in TOPICS if s in appliers(ops, t))
        applied_day = sum(events_day[t] for t in TOPICS if s in appliers(ops, t))
        produced = sum(events[t] for t in TOPICS if producer(t) == s)
        produced_day = sum(events_day[t] for t in TOPICS if producer(t) == s)
        cores = total("cpu_ms", s, peak) / 1000
        replicas = max(
            traffic.min_replicas,
            math.ceil(cores / (traffic.cores_per_replica * traffic.target_utilisation)),
        )
        # a consumer transaction per batch; an inbox row per record applied; an outbox row
        # written, marked sent and purged per record published
        write_tps = total("write_txns", s, peak) + applied / traffic.consumer_batch
        rows = total("row_writes", s, peak) + applied + 3 * produced
        db_cores = (total("db_ms", s, peak) + rows * costs["db_ms_per_row"]) / 1000
        gb_day = (
            total("durable_rows", s, daily) * costs["row_bytes"]
            + applied_day * costs["inbox_row_bytes"]
        ) / 1e9
        outbox_tb = produced_day * costs["outbox_row_bytes"] / 1e12  # the 24 h kept
        tb_year = gb_day * 365 * PLANNING_YEARS / 1000 + outbox_tb
        services[s] = ServicePlan(
            cores=cores,
            replicas=replicas,
            connections=replicas * PG_POOL,
            relay_load=produced / costs["relay_events_s"],
            write_tps=write_tps,
            row_writes=rows,
            db_cores=db_cores,
            storage_gb_day=gb_day,
            storage_tb_year=tb_year,
            database=database_path(write_tps, rows, db_cores, tb_year),
        )

    topics: dict[str, TopicPlan] = {}
    for name, topic in TOPICS.items():
        # Each partition is applied by one consumer process, in order: enough partitions for
        # the busiest group to stay under the target utilisation on each, and for none to
        # pass one consumer's measured rate. Replicas beyond the count serve HTTP and stand
        # by as consumers.
        slowest = max(per_record_ms(ops, name, group, costs) for group in topic.consumers)
        needed = max(
            events[name] * slowest / 1000 / traffic.target_utilisation,
            events[name] / costs["consumer_events_s"],
        )
        mb = events[name] * costs["record_bytes"] / 1e6
        topics[name] = TopicPlan(
            events_s=events[name],
            partitions=nice_partitions(needed, topic.partitions),
            key=topic.key,
            write_mbs=mb * REPLICATION,
            read_mbs=mb * len(topic.consumers),
            storage_tb=(
                events_day[name] * costs["record_bytes"] * topic.retention_days * REPLICATION
            )
            / 1e12,
        )
    write = sum(t.write_mbs for t in topics.values())
    disk = sum(t.storage_tb for t in topics.values())
    # every topic has its .dlq with as many partitions
    partition_replicas = sum(2 * t.partitions * REPLICATION for t in topics.values())
    brokers = max(
        REPLICATION,
        math.ceil(write / BROKER_WRITE_MBS),
        math.ceil(disk / BROKER_DISK_TB),
        math.ceil(partition_replicas / BROKER_PARTITIONS),
    )
    return Plan(
        traffic=traffic,
        operations_s=peak,
        api_requests_s=sum(rate for op, rate in peak.items() if op != "credit"),
        events_s=sum(events.values()),
        burst_onboarding_cores=traffic.burst_rate * costs["join_ms.onboarding"] / 1000,
        services=services,
        topics=topics,
        brokers=brokers,
    )


# ---------------------------------------------------------------- output


def _n(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    cells = [list(header), *[list(r) for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [
        "  ".join(
            c.ljust(w) if i in (0, len(r) - 1) else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ).rstrip()
        for r in cells
    ]
    lines.insert(1, "-" * max(len(line) for line in lines))
    return lines


def render(p: Plan) -> str:
    t = p.traffic
    out = [
        f"== {t.tenants:,} tenants × {t.communities_per_tenant} communities × "
        f"{t.members_per_tenant:,} members: {t.members:,} members, "
        f"{t.communities:,} communities",
        f"peak hour: {_n(p.api_requests_s)} API requests/s, {_n(p.events_s)} events/s",
        "operations/s: " + ", ".join(f"{op} {_n(rate)}" for op, rate in p.operations_s.items()),
        f"livestream bursts: {t.bursting_tenants:,} at once, each {t.burst_joins:,} joins in "
        f"{t.burst_minutes:g} min = {_n(t.burst_rate)} joins/s on one routing code "
        f"({_n(p.burst_onboarding_cores)} onboarding cores)",
        "",
    ]
    out += _table(
        ("service", "cores", "replicas", "PG conns", "relay", "write tx/s", "rows/s",
         "PG cores", "GB/day", "TB/year", "PostgreSQL"),
        [
            (s, _n(sp.cores), str(sp.replicas), f"{sp.connections:,}", f"{sp.relay_load:.0%}",
             _n(sp.write_tps), _n(sp.row_writes), _n(sp.db_cores), _n(sp.storage_gb_day),
             _n(sp.storage_tb_year), sp.database)
            for s, sp in p.services.items()
        ],
    )  # fmt: skip
    out.append("")
    out += _table(
        ("topic", "events/s", "partitions", "in MB/s", "out MB/s", "disk TB", "key"),
        [
            (name, _n(tp.events_s), str(tp.partitions), _n(tp.write_mbs), _n(tp.read_mbs),
             _n(tp.storage_tb), tp.key)
            for name, tp in p.topics.items()
        ],
    )  # fmt: skip
    out.append(
        f"Kafka: {p.brokers} brokers, replication {REPLICATION}: "
        f"{_n(sum(tp.write_mbs for tp in p.topics.values()))} MB/s written, "
        f"{_n(sum(tp.storage_tb for tp in p.topics.values()))} TB retained"
    )
    return "\n".join(out)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--costs", type=Path, action="append", default=[], help="JSON file")
    parser.add_argument(
        "--tenants",
        type=int,
        action="append",
        help="scenario (repeatable; default 10, 1000, 10000)",
    )
    defaults = Traffic(tenants=1)
    for name in (
        "communities_per_tenant", "members_per_tenant", "daily_active_share", "peak_factor",
        "app_opens", "feed_pages", "leaderboard_reads", "other_reads", "checkins", "posts",
        "credits", "joins_share", "burst_joins", "burst_minutes", "bursting_share",
        "target_utilisation", "cores_per_replica", "min_replicas", "consumer_batch",
    ):  # fmt: skip
        default = getattr(defaults, name)
        parser.add_argument(
            "--" + name.replace("_", "-"), type=type(default), default=default,
            help=f"default {default}",
        )  # fmt: skip
    parser.add_argument("--list-costs", action="store_true", help="print the costs and exit")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    costs = load_costs(args.costs)
    if args.list_costs:
        for name, value in costs.items():
            cost = COSTS[name]
            print(f"{name:<24} {value:>9.3f}  {cost.unit:<28} {cost.source}")
        return
    knobs = {k: v for k, v in vars(args).items() if k not in ("costs", "tenants", "list_costs")}
    for tenants in args.tenants or (10, 1_000, 10_000):
        print(render(plan(replace(Traffic(tenants=tenants), **knobs), costs)))
        print()


if __name__ == "__main__":
    main()
