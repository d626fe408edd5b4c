"""A noisy tenant beside a quiet one: does tenant B keep its latency while tenant A imports
members and sends a burst of joins?

The platform runs as processes on PostgreSQL (``quanzi_devstack.run.Platform``, one fresh
database per service). Tenant B's ordinary traffic is a member joining its community through
a routing code ``--b-rate`` times a second (paced, not closed-loop), measured twice for
``--seconds``: alone, then while tenant A imports ``--import-rows`` members through
``POST /v1/onboarding/members/batch`` (1,000 rows a request, sent again when answered 429
for the publishing backlog) and ``--a-connections`` of A's members join its community
back to back. Both tenants are on the default plan. With ``--bulk-lane`` (the default) the
gateway sends the imports to an onboarding process of their own, as deploy/ recommends.

For each of B's joins: the API latency (request → answer through the gateway) and the event
lag (the answer → rewards' ``points.credited`` for that member read from the broker, that is
onboarding's commit → relay → rewards' consumer → rewards' relay). Printed: B's p50 and p99
of both, alone and beside A, and the ratio of the p99s (goal: at most 2×). Nothing asserts
a timing.

    uv run --frozen python bench/fairness.py [--seconds 20] [--b-rate 5] [--import-rows 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Run as a script, this file's directory leads sys.path (bench/onboarding.py would shadow
# the onboarding package).
sys.path.remove(os.path.dirname(os.path.abspath(__file__)))

import aiohttp
import httpx
from aiokafka import AIOKafkaConsumer

from quanzi_devstack.access import GatewaySigner, create_tenant
from quanzi_devstack.benchkit import note, percentile
from quanzi_devstack.run import DEFAULT_PORTS, Platform
from servicekit.testing import fresh_database

RESULTS = Path(__file__).parent / "results"
CREDITED = "quanzi.rewards.points.credited.v1"
IMPORT_BATCH = 1000


@dataclass
class Side:
    """One tenant's community and the way its members join it."""

    tenant_id: str
    owner: dict[str, str]
    join_url: str


def set_up(platform: Platform, signer: GatewaySigner, name: str) -> Side:
    tenant_id = create_tenant(platform, f"{name}-{uuid.uuid4().hex[:8]}")
    owner = {"Authorization": f"Bearer {signer.operator(tenant_id)}"}
    with httpx.Client(base_url=platform.gateway_url, headers=owner, timeout=30) as client:
        community = client.post(
            "/v1/onboarding/communities",
            json={"slug": name, "name": name, "groups": [{"name": "1群", "capacity": 500}]},
        )
        community.raise_for_status()
        cid = community.json()["id"]
        groups = client.get(f"/v1/onboarding/communities/{cid}/groups").json()["items"]
        code = f"{name}-code"
        client.post(
            "/v1/onboarding/routing-codes",
            json={
                "community_id": cid,
                "code": code,
                "group_ids": [g["id"] for g in groups],
                "overflow_prefix": f"{name} 扩容",
                "overflow_capacity": 500,
            },
        ).raise_for_status()
    url = f"{platform.gateway_url}/v1/onboarding/routing-codes/{code}/join"
    return Side(tenant_id, owner, url)


@dataclass
class Figures:
    case: str
    joins: int
    api_p50_ms: float
    api_p99_ms: float
    lag_p50_ms: float
    lag_p99_ms: float
    errors: int
    lag_missing: int


class CreditWatch:
    """Reads rewards.points from the end and notes when each member's credit arrived."""

    def __init__(self, bootstrap: str) -> None:
        self.consumer = AIOKafkaConsumer(
            "rewards.points", bootstrap_servers=bootstrap, fetch_max_wait_ms=10
        )
        self.seen: dict[tuple[str, str], float] = {}
        self.arrived = asyncio.Condition()

    async def run(self) -> None:
        await self.consumer.start()
        try:
            async for record in self.consumer:
                headers = dict(record.headers or [])
                if headers.get("ce_type") != CREDITED.encode():
                    continue
                data = json.loads(record.value)
                key = (headers["ce_tenantid"].decode(), str(data.get("member_id")))
                self.seen.setdefault(key, time.perf_counter())
                async with self.arrived:
                    self.arrived.notify_all()
        finally:
            await self.consumer.stop()

    async def when(self, tenant_id: str, member_id: str, timeout_s: float) -> float | None:
        key = (tenant_id, member_id)
        try:
            async with asyncio.timeout(timeout_s), self.arrived:
                await self.arrived.wait_for(lambda: key in self.seen)
        except TimeoutError:
            return None
        return self.seen[key]


async def quiet_tenant(
    case: str, side: Side, signer: GatewaySigner, watch: CreditWatch, args: argparse.Namespace
) -> Figures:
    """B's joins, paced at ``--b-rate`` a second for ``--seconds``."""
    api: list[float] = []
    lags: list[float] = []
    errors = missing = 0
    async with aiohttp.ClientSession() as session:

        async def join(n: int) -> None:
            nonlocal errors, missing
            member = f"{case}-{n}"
            headers = {"Authorization": f"Bearer {signer.member(side.tenant_id, member)}"}
            began = time.perf_counter()
            async with session.post(side.join_url, headers=headers) as response:
                await response.read()
                answered = time.perf_counter()
                if response.status != 201:
                    errors += 1
                    return
            api.append(answered - began)
            credited = await watch.when(side.tenant_id, member, timeout_s=120)
            if credited is None:
                missing += 1
            else:
                lags.append(max(0.0, credited - answered))

        total = int(args.seconds * args.b_rate)
        started = time.perf_counter()
        tasks = []
        for n in range(total):
            await asyncio.sleep(max(0.0, started + n / args.b_rate - time.perf_counter()))
            tasks.append(asyncio.create_task(join(n)))
        await asyncio.gather(*tasks)
    note(f"{case}: {len(api)} joins, API p99 {percentile(api, 0.99) * 1000:.0f} ms")
    return Figures(
        case=case,
        joins=len(api),
        api_p50_ms=statistics.median(api) * 1000 if api else float("nan"),
        api_p99_ms=percentile(api, 0.99) * 1000,
        lag_p50_ms=statistics.median(lags) * 1000 if lags else float("nan"),
        lag_p99_ms=percentile(lags, 0.99) * 1000,
        errors=errors,
        lag_missing=missing,
    )


async def noisy_tenant(
    platform: Platform, side: Side, signer: GatewaySigner, args: argparse.Namespace
) -> dict[str, int]:
    """A's import and burst of joins, until cancelled; what it got done."""
    done = {"imported": 0, "import_429": 0, "joins": 0, "join_errors": 0}
    batches = f"{platform.gateway_url}/v1/onboarding/members/batch"
    async with aiohttp.ClientSession() as session:

        async def importer() -> None:
            for start in range(0, args.import_rows, IMPORT_BATCH):
                rows = [
                    {"external_id": f"imported-{n}", "display_name": f"会员{n}", "tags": ["导入"]}
                    for n in range(start, min(start + IMPORT_BATCH, args.import_rows))
                ]
                while True:
                    async with session.post(batches, json={"rows": rows}, headers=side.owner) as r:
                        await r.read()
                        if r.status != 429:
                            break
                        done["import_429"] += 1
                        await asyncio.sleep(float(r.headers.get("Retry-After", "1")))
                done["imported"] += len(rows)

        async def joiner(worker: int) -> None:
            n = 0
            while True:
                member = f"burst-{worker}-{n}"
                headers = {"Authorization": f"Bearer {signer.member(side.tenant_id, member)}"}
                async with session.post(side.join_url, headers=headers) as response:
                    await response.read()
                    done["joins" if response.status == 201 else "join_errors"] += 1
                n += 1

        tasks = [asyncio.create_task(importer())]
        tasks += [asyncio.create_task(joiner(w)) for w in range(args.a_connections)]
        try:
            await asyncio.gather(*tasks)
        except asyncio.CancelledError:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return done


async def measure(platform: Platform, args: argparse.Namespace) -> dict[str, Any]:
    signer = GatewaySigner.of(platform)
    quiet = set_up(platform, signer, "quiet")
    noisy = set_up(platform, signer, "noisy")
    watch = CreditWatch(platform.bootstrap_servers)
    watching = asyncio.create_task(watch.run())
    await asyncio.sleep(args.settle)  # the setup's events consumed; the watch at the end
    note(f"B alone for {args.seconds:g} s")
    alone = await quiet_tenant("alone", quiet, signer, watch, args)
    note(f"B beside A ({args.import_rows:,} rows imported, {args.a_connections} joiners)")
    done: dict[str, int] = {}

    async def a_side() -> None:
        done.update(await noisy_tenant(platform, noisy, signer, args))

    noise = asyncio.create_task(a_side())
    await asyncio.sleep(args.settle)  # A's load under way
    beside = await quiet_tenant("beside", quiet, signer, watch, args)
    noise.cancel()
    await asyncio.gather(noise, return_exceptions=True)
    watching.cancel()
    await asyncio.gather(watching, return_exceptions=True)
    return {"alone": alone, "beside": beside, "noisy": done}


def report(result: dict[str, Any]) -> None:
    alone, beside = result["alone"], result["beside"]
    print(f"\n{'B':<8} {'joins':>6} {'API p50':>8} {'API p99':>8} {'lag p50':>8} {'lag p99':>8}")
    for f in (alone, beside):
        print(
            f"{f.case:<8} {f.joins:>6} {f.api_p50_ms:>8.0f} {f.api_p99_ms:>8.0f}"
            f" {f.lag_p50_ms:>8.0f} {f.lag_p99_ms:>8.0f}"
            f"  errors {f.errors}, credits missing {f.lag_missing}"
        )
    print(
        f"\nB beside A ÷ B alone: API p99 {beside.api_p99_ms / alone.api_p99_ms:.2f}×,"
        f" event lag p99 {beside.lag_p99_ms / alone.lag_p99_ms:.2f}× (goal ≤ 2×)"
    )
    print(f"A meanwhile: {result['noisy']}")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="quanzi-fairness-") as workdir:
        async with AsyncExitStack() as stack:
            urls = {
                service: await stack.enter_async_context(fresh_database("postgres", Path(workdir)))
                for service in DEFAULT_PORTS
            }
            platform = Platform.on_free_ports(
                Path(workdir), quiet=True, database_urls=urls, bulk_lane=args.bulk_lane
            )
            note("starting the platform on PostgreSQL")
            await asyncio.to_thread(platform.start)
            try:
                return await measure(platform, args)
            finally:
                await asyncio.to_thread(platform.stop)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--b-rate", type=float, default=5.0, help="B's joins per second")
    parser.add_argument("--import-rows", type=int, default=100_000)
    parser.add_argument("--a-connections", type=int, default=32)
    parser.add_argument("--settle", type=float, default=5.0, help="seconds before measuring")
    parser.add_argument(
        "--bulk-lane",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="imports served by their own onboarding process (Platform.bulk_lane)",
    )
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()
    result = asyncio.run(run(args))
    report(result)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    out = RESULTS / f"fairness-{stamp}.json"
    serialisable = {k: asdict(v) if isinstance(v, Figures) else v for k, v in result.items()}
    out.write_text(json.dumps({"args": vars(args), **serialisable}, indent=2))
    print(f"\nfull results: {out}")


if __name__ == "__main__":
    main()
