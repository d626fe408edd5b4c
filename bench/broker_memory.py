"""The dev broker's memory on a long run of `make run`, with and without recycling.

Tansu's memory storage never frees. `quanzi-dev run` recycles it past a limit
(``QUANZI_DEV_BROKER_MAX_MIB``), which is safe because each service's relay sends what it
retains to a broker that came back empty (servicekit.brokerwatch). This pushes small events
through the platform, written into onboarding's outbox as its use cases write them and
published by its relay, and prints the broker's resident memory at the start, every
``--report-every`` events and at the end: once with recycling, once without.

    uv run --frozen python bench/broker_memory.py                       # 10 million, long
    uv run --frozen python bench/broker_memory.py --events 2000000 --report-every 250000

The events go to ``platform.selftest``, which no service consumes. What a recycle puts back
is the relays' retention window (``--retention-hours``, kept short here because the run
compresses weeks of traffic into minutes; 24 h by default in a real `make run`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from quanzi_devstack.run import MIB, Platform
from servicekit.contracts import Registry
from servicekit.db import create_engine, session_factory, transaction
from servicekit.kafka import KafkaConfig, contract_topics, ensure_topics
from servicekit.outbox import add_events
from servicekit.probe import probe_event
from servicekit.tables import outbox

TOPIC = "platform.selftest"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--report-every", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=5_000, help="events per transaction")
    parser.add_argument("--limit-mib", type=int, default=512, help="recycle past this")
    parser.add_argument("--retention-hours", type=float, default=0.002)
    parser.add_argument("--modes", default="recycling,none")
    args = parser.parse_args()
    results = {mode: run(mode, args) for mode in args.modes.split(",")}
    print("\nmode        events      broker MiB (start … every report … end)   recycles")
    for mode, (rows, recycles) in results.items():
        figures = " ".join(str(mib) for _, mib in rows)
        print(f"{mode:<11} {rows[-1][0]:>9,}  {figures}   {recycles}")
    out = (
        Path("bench/results")
        / f"broker-memory-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "results": results}, indent=2))
    return 0


def run(mode: str, args: argparse.Namespace) -> tuple[list[tuple[int, int]], int]:
    with tempfile.TemporaryDirectory() as var:
        platform = Platform.on_free_ports(
            Path(var),
            quiet=True,
            broker_max_bytes=(args.limit_mib if mode == "recycling" else 1 << 30) * MIB,
            extra_env={
                f"QUANZI_{name.upper()}_RELAY_RETENTION_HOURS": str(args.retention_hours)
                for name in (
                    "gateway",
                    "onboarding",
                    "content",
                    "activities",
                    "rewards",
                    "integrations",
                )
            },
        )
        platform.broker_recycle_min_s = 0.0
        platform.start()
        try:
            config = KafkaConfig(platform.bootstrap_servers)
            asyncio.run(ensure_topics(config, contract_topics(Registry.load(), [TOPIC])))
            return asyncio.run(push(platform, mode, args))
        finally:
            platform.stop()


async def push(
    platform: Platform, mode: str, args: argparse.Namespace
) -> tuple[list[tuple[int, int]], int]:
    engine = create_engine(f"sqlite+aiosqlite:///{platform.var_dir / 'onboarding.db'}")
    sessions = session_factory(engine)
    rows = [(0, platform.broker_memory_mib() or 0)]
    recycles = 0
    written = 0
    started = time.monotonic()
    try:
        while written < args.events:
            events = [
                probe_event(TOPIC, f"s{n % 100}", 1, written + n)
                for n in range(min(args.chunk, args.events - written))
            ]
            async with transaction(sessions) as session:
                await add_events(session, events)
            written += len(events)
            if await asyncio.to_thread(platform.tend_broker):
                recycles += 1
            if written % args.report_every < args.chunk or written == args.events:
                await drained(sessions)
                rows.append((written, platform.broker_memory_mib() or 0))
                rate = written / (time.monotonic() - started)
                print(
                    f"[{mode}] {written:,} events, broker {rows[-1][1]} MiB, "
                    f"{recycles} recycles, {rate:,.0f} events/s",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        await engine.dispose()
    return rows, recycles


async def drained(sessions: object) -> None:
    """Wait until onboarding's relay has published everything written so far."""
    query = select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))
    while True:
        async with transaction(sessions) as session:  # type: ignore[arg-type]
            if not (await session.execute(query)).scalar():
                return
        await asyncio.sleep(0.2)


if __name__ == "__main__":
    raise SystemExit(main())
