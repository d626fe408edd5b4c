"""Onboarding benchmark: joins per second through the gateway, with capacity routing, on
PostgreSQL, beside the raw single-row INSERT+COMMIT rate measured in the same run.

The platform runs as processes on free ports (``quanzi_devstack.run.Platform``), every
service on its own fresh PostgreSQL database. One community gets a routing code (群活码) over
``--groups`` groups of ``--capacity`` seats with overflow groups of the same size, so a run
fills the groups and opens overflow groups while joins are in flight. ``--joins`` members,
each with their own member token (signed with the gateway's development key, so minting is
not measured), join through ``POST /v1/onboarding/routing-codes/{code}/join`` on
``--connections`` keep-alive connections, each sending its next join when the last is
answered. Each join is a full request: gateway admission (JWT, tenant, rate limits with the
limits lifted), proxy, onboarding's transaction (membership, seat, outbox event).

Raw baseline: the same number of single-row ``INSERT`` statements, each its own
transaction (autocommit), on the same number of asyncpg connections to the same server.

After the run the groups are read back: every join placed once, no group over capacity.
Printed: joins/s, p50, p99, and the ratio to raw. Nothing asserts a timing.

Every join sets six consumers in five other services to work (rewards' join bonus, the
level it brings, content's, activities', insights' and integrations' projections), and on
one machine they share its cores with the joins. ``--pause-downstream`` stops those five
services (SIGSTOP) for the burst and resumes them after it: the joins/s is then what the
join path itself (gateway, onboarding, its relay) sustains, a livestream burst admitted
first and projected after; the run also prints how long the five took to catch up, and the
CPU per join counts their catch-up work.

    uv run --frozen python bench/onboarding.py [--joins 3000] [--connections 32]
                                               [--groups 3] [--capacity 200]
                                               [--workers 1] [--pause-downstream]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Run as a script, this file's directory leads sys.path, and this file would shadow the
# onboarding package.
sys.path.remove(os.path.dirname(os.path.abspath(__file__)))

import aiohttp
import asyncpg
import httpx

from quanzi_devstack.access import GatewaySigner, create_tenant
from quanzi_devstack.benchkit import Figure, cpu_seconds, drive, note, raw_inserts
from quanzi_devstack.run import DEFAULT_PORTS, Platform
from servicekit.pagination import MAX_PAGE_SIZE
from servicekit.testing import postgres_admin_dsn, postgres_available

RESULTS = Path(__file__).parent / "results"
UNLIMITED = {
    "tenant_rate": 1e9,
    "tenant_burst": 10**9,
    "principal_rate": 1e9,
    "principal_burst": 10**9,
}
PLANS = {name: UNLIMITED for name in ("free", "standard", "enterprise", "anonymous")}


def _show_server_errors(workdir: Path) -> None:
    """The first errors the services logged (a 5xx is a defect to read, not a figure)."""
    for log in sorted(workdir.glob("*.log")):
        lines = log.read_text(errors="replace").splitlines()
        errors = [line for line in lines if '"ERROR"' in line]
        for line in errors[:3]:
            print(f"--- {log.name}: {line[:4000]}", file=sys.stderr)


# ------------------------------------------------------------------ joins through the gateway


@dataclass(frozen=True)
class Setup:
    tenant_id: str
    owner: dict[str, str]
    community_id: str
    code: str


def set_up(platform: Platform, signer: GatewaySigner, groups: int, capacity: int) -> Setup:
    tenant_id = create_tenant(platform, f"bench-{uuid.uuid4().hex[:8]}")
    owner = {"Authorization": f"Bearer {signer.operator(tenant_id)}"}
    with httpx.Client(base_url=platform.gateway_url, headers=owner, timeout=30) as client:
        community = client.post(
            "/v1/onboarding/communities",
            json={
                "slug": "bench",
                "name": "压测社群",
                "groups": [
                    {"name": f"新人群 {n + 1}", "capacity": capacity} for n in range(groups)
                ],
            },
        )
        community.raise_for_status()
        community_id = community.json()["id"]
        group_ids = [
            g["id"]
            for g in client.get(f"/v1/onboarding/communities/{community_id}/groups").json()["items"]
        ]
        code = client.post(
            "/v1/onboarding/routing-codes",
            json={
                "community_id": community_id,
                "code": "bench-code",
                "group_ids": group_ids,
                "channel": "bench",
                "overflow_prefix": "扩容群 ",
                "overflow_capacity": capacity,
            },
        )
        code.raise_for_status()
    return Setup(tenant_id, owner, community_id, "bench-code")


async def joins(
    platform: Platform, signer: GatewaySigner, setup: Setup, total: int, connections: int
) -> Figure:
    tokens = [signer.member(setup.tenant_id, f"member-{n}") for n in range(total)]
    url = f"{platform.gateway_url}/v1/onboarding/routing-codes/{setup.code}/join"
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def join(n: int) -> str:
            headers = {"Authorization": f"Bearer {tokens[n]}"}
            async with session.post(url, headers=headers) as response:
                await response.read()
                return str(response.status)

        return await drive("join via gateway", total, connections, join)


def placements(platform: Platform, setup: Setup, capacity: int) -> dict[str, Any]:
    """Every member placed once, no group over capacity: read back through the API."""
    groups: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": MAX_PAGE_SIZE}
    with httpx.Client(base_url=platform.gateway_url, headers=setup.owner, timeout=30) as client:
        while True:  # every page: a burst opens more groups than one page holds
            page = client.get(
                f"/v1/onboarding/communities/{setup.community_id}/groups", params=params
            ).json()
            groups += page["items"]
            if page["next_cursor"] is None:
                break
            params = {"limit": MAX_PAGE_SIZE, "cursor": page["next_cursor"]}
    seated = sum(group["member_count"] for group in groups)
    over = [g["name"] for g in groups if g["member_count"] > g["capacity"]]
    return {"groups": len(groups), "seated": seated, "over_capacity": over, "capacity": capacity}


# ------------------------------------------------------------------ the run


async def drop_databases(names: Sequence[str]) -> None:
    admin = await asyncpg.connect(postgres_admin_dsn())
    try:
        for name in names:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def idle_cpu(platform: Platform, seconds: float) -> dict[str, float]:
    """Each service's share of a core while nobody calls it."""
    before = cpu_seconds(platform)
    await asyncio.sleep(seconds)
    after = cpu_seconds(platform)
    return {name: (after[name] - before[name]) / seconds for name in after}


JOIN_PATH = ("gateway", "onboarding")


def signal_downstream(platform: Platform, sig: signal.Signals) -> None:
    """SIGSTOP or SIGCONT every service but the join path's (single processes)."""
    for name, process in platform.processes.items():
        if name not in JOIN_PATH:
            os.kill(process.pid, sig)


async def caught_up(platform: Platform, quiet_share: float = 0.05, quiet_s: float = 2.0) -> float:
    """Seconds until every service has been quiet (under ``quiet_share`` of a core) for
    ``quiet_s``: the resumed consumers have applied their backlog. The quiet spell is not
    counted."""
    started = time.monotonic()
    quiet_since = started
    before = cpu_seconds(platform)
    while True:
        await asyncio.sleep(0.5)
        after = cpu_seconds(platform)
        busy = any((after[name] - before[name]) / 0.5 > quiet_share for name in after)
        before = after
        now = time.monotonic()
        if busy:
            quiet_since = now
        elif now - quiet_since >= quiet_s:
            return quiet_since - started


async def deadlocks(database: str) -> int:
    """PostgreSQL's count of deadlocks detected in ``database`` (read after its sessions end)."""
    admin = await asyncpg.connect(postgres_admin_dsn())
    try:
        await admin.execute("SELECT pg_stat_clear_snapshot()")
        found = await admin.fetchval(
            "SELECT deadlocks FROM pg_stat_database WHERE datname = $1", database
        )
        return int(found or 0)
    finally:
        await admin.close()


async def measure(platform: Platform, args: argparse.Namespace, raw_dsn: str) -> dict[str, Any]:
    signer = GatewaySigner.of(platform)
    setup = set_up(platform, signer, args.groups, args.capacity)
    note(f"idle: CPU of each service over {args.idle_seconds:g} s")
    # The setup's own events (tenant, community, groups) are still being consumed for a few
    # seconds; consumers slow their fetches 2 s after the last record.
    await asyncio.sleep(args.idle_settle)
    idle = await idle_cpu(platform, args.idle_seconds)
    note(f"raw: {args.joins:,} single-row INSERT+COMMIT on {args.connections} connections")
    raw = await raw_inserts(raw_dsn, args.joins, args.connections)
    note(f"ours: {args.joins:,} joins through the gateway on {args.connections} connections")
    before = cpu_seconds(platform)
    catch_up_s = None
    if args.pause_downstream:
        signal_downstream(platform, signal.SIGSTOP)
        try:
            ours = await joins(platform, signer, setup, args.joins, args.connections)
        finally:
            signal_downstream(platform, signal.SIGCONT)
        note("downstream services resumed: waiting until they have caught up")
        catch_up_s = await caught_up(platform)
    else:
        ours = await joins(platform, signer, setup, args.joins, args.connections)
    after = cpu_seconds(platform)
    # Each join also sets the rest of the platform to work (relay, rewards' join bonus...):
    # on one machine they share its cores with the joins.
    cpu_ms = {name: (after[name] - before[name]) * 1000 / args.joins for name in after}
    return {
        "raw": raw,
        "ours": ours,
        "downstream_catch_up_s": catch_up_s,
        "cpu_ms_per_join": cpu_ms,
        "idle_cpu_share": idle,
        "placements": placements(platform, setup, args.capacity),
    }


def report(result: dict[str, Any]) -> None:
    raw, ours, placed = result["raw"], result["ours"], result["placements"]
    print(
        f"\n{'case':<20} {'ops':>7} {'seconds':>8} {'per s':>8} {'p50 ms':>8} {'p99 ms':>8}  errors"
    )
    for figure in (raw, ours):
        print(
            f"{figure.case:<20} {figure.operations:>7,} {figure.seconds:>8.2f}"
            f" {figure.per_s:>8,.0f} {figure.p50_ms:>8.1f} {figure.p99_ms:>8.1f}"
            f"  {figure.failures('201' if figure is ours else 'ok') or '-'}"
        )
    print(f"\njoins/s through the gateway ÷ raw INSERT+COMMIT/s = {ours.per_s / raw.per_s:.2f}×")
    caught = result["downstream_catch_up_s"]
    if caught is not None:
        print(
            f"downstream services paused during the joins; they caught up {caught:.1f} s"
            " after the last join"
        )
    cpu = ", ".join(f"{name} {ms:.1f}" for name, ms in result["cpu_ms_per_join"].items())
    during = "during the joins" if caught is None else "during the joins and the catch-up"
    print(f"CPU ms per join, by service, {during}: {cpu} ({os.cpu_count()} cores)")
    idle = ", ".join(f"{name} {share:.1%}" for name, share in result["idle_cpu_share"].items())
    print(f"idle CPU, share of a core, before the joins: {idle}")
    print(f"deadlocks PostgreSQL detected in onboarding's database: {result['deadlocks']}")
    once = "yes" if placed["seated"] == ours.outcomes.get("201", 0) else "NO"
    print(
        f"placements: {placed['seated']:,} seated in {placed['groups']} groups"
        f" (capacity {placed['capacity']} each); over capacity: {placed['over_capacity'] or 'none'}"
        f"; every join seated once: {once}"
    )


def run(args: argparse.Namespace) -> None:
    if not asyncio.run(postgres_available()):
        raise SystemExit(f"PostgreSQL unreachable at {postgres_admin_dsn()}")
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    server = postgres_admin_dsn().rsplit("/", 1)[0]
    names = {service: f"bench_{service}_{stamp}" for service in DEFAULT_PORTS}
    urls = {
        s: f"{server.replace('postgresql://', 'postgresql+asyncpg://')}/{n}"
        for s, n in names.items()
    }
    raw_name = f"bench_raw_{stamp}"
    env = {"QUANZI_GATEWAY_RATE_LIMIT_PLANS": json.dumps(PLANS)}  # measure joins, not 429s
    with tempfile.TemporaryDirectory(prefix="quanzi-bench-") as workdir:
        workers = {"onboarding": args.workers}
        platform = Platform.on_free_ports(
            Path(workdir), quiet=True, extra_env=env, database_urls=urls, workers=workers
        )
        try:
            note("starting the platform on PostgreSQL")
            platform.start()
            asyncio.run(_create_database(raw_name))
            result = asyncio.run(measure(platform, args, f"{server}/{raw_name}"))
            _show_server_errors(Path(workdir))
        except Exception:
            for service in ("gateway", "onboarding"):  # the logs vanish with the directory
                log = (Path(workdir) / f"{service}.log").read_text(errors="replace")
                print(f"--- {service}.log (end)\n{log[-3000:]}", file=sys.stderr)
            raise
        finally:
            platform.stop()
            found = asyncio.run(deadlocks(names["onboarding"]))
            asyncio.run(drop_databases([*names.values(), raw_name]))
        result["deadlocks"] = found
    report(result)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"onboarding-{stamp}.json"
    serialisable = {k: asdict(v) if isinstance(v, Figure) else v for k, v in result.items()}
    out.write_text(json.dumps({"args": vars(args), **serialisable}, indent=2))
    print(f"\nfull results: {out}")


async def _create_database(name: str) -> None:
    admin = await asyncpg.connect(postgres_admin_dsn())
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--joins", type=int, default=3000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--groups", type=int, default=3)
    parser.add_argument("--capacity", type=int, default=200)
    parser.add_argument("--workers", type=int, default=1, help="onboarding worker processes")
    parser.add_argument(
        "--pause-downstream",
        action="store_true",
        help="stop the services downstream of the join during the burst (see the docstring)",
    )
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument("--idle-settle", type=float, default=10.0, help="seconds before")
    return parser.parse_args(argv)


def main() -> None:
    run(parse_args())


if __name__ == "__main__":
    main()
