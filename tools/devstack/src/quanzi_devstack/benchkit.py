"""What the benchmarks (``bench/``) share: a closed-loop load driver and its figures, the
raw single-row INSERT+COMMIT baseline, the services' CPU from /proc, admin statements."""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from quanzi_devstack.run import Platform
from servicekit.testing import postgres_admin_dsn


@dataclass
class Figure:
    case: str
    operations: int
    seconds: float
    per_s: float
    p50_ms: float
    p99_ms: float
    outcomes: dict[str, int]  # by outcome (an HTTP status, "ok")

    def failures(self, success: str) -> dict[str, int]:
        return {outcome: n for outcome, n in self.outcomes.items() if outcome != success}


def note(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def drive(
    case: str, total: int, connections: int, operation: Callable[[int], Awaitable[str]]
) -> Figure:
    """``operation(n)`` for n in 0..total-1 on ``connections`` workers, each starting the
    next when the last is done; it returns its outcome (a status), counted. Progress every
    500 operations on stderr."""
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()
    queue = iter(range(total))
    started = time.perf_counter()

    async def worker() -> None:
        for n in queue:
            began = time.perf_counter()
            outcomes[await operation(n)] += 1
            latencies.append(time.perf_counter() - began)
            if len(latencies) % 500 == 0:
                elapsed = time.perf_counter() - started
                note(f"{case}: {len(latencies):,}/{total:,}  {len(latencies) / elapsed:,.0f}/s")

    await asyncio.gather(*(worker() for _ in range(connections)))
    seconds = time.perf_counter() - started
    return Figure(
        case=case,
        operations=total,
        seconds=seconds,
        per_s=total / seconds,
        p50_ms=statistics.median(latencies) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        outcomes=dict(outcomes),
    )


async def raw_inserts(dsn: str, total: int, connections: int) -> Figure:
    """The baseline: ``total`` single-row INSERTs, each its own transaction (autocommit),
    on ``connections`` asyncpg connections."""
    pool = await asyncpg.create_pool(dsn, min_size=connections, max_size=connections)
    assert pool is not None
    try:
        await pool.execute(
            "CREATE TABLE bench_rows (id uuid PRIMARY KEY, member_id text NOT NULL,"
            " at timestamptz NOT NULL)"
        )

        async def insert(n: int) -> str:
            await pool.execute(
                "INSERT INTO bench_rows (id, member_id, at) VALUES ($1, $2, now())",
                uuid.uuid4(),
                f"m-{n}",
            )
            return "ok"

        return await drive("raw INSERT+COMMIT", total, connections, insert)
    finally:
        await pool.close()


def cpu_seconds(platform: Platform) -> dict[str, float]:
    """CPU time (user + system) each service has used so far, its worker processes
    included (Linux /proc)."""
    return {name: _tree_cpu(process.pid) for name, process in platform.processes.items()}


def _tree_cpu(pid: int) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    used = (int(fields[11]) + int(fields[12])) / ticks
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        used += sum(_tree_cpu(int(child)) for child in children)
    return used


def per_operation(before: dict[str, float], after: dict[str, float], n: int) -> dict[str, float]:
    """CPU milliseconds per operation, by service, between two ``cpu_seconds``."""
    return {name: (after[name] - before[name]) * 1000 / n for name in after}


async def admin(*statements: str) -> None:
    """Statements on the server's admin database (CREATE/DROP DATABASE)."""
    connection = await asyncpg.connect(postgres_admin_dsn())
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()
