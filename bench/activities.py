"""Activities benchmark: check-ins per second through the gateway on PostgreSQL, beside
the raw single-row INSERT+COMMIT rate measured in the same run, the claim rate on one
hot point drop (红包) beside a raw hot-row UPDATE+INSERT+COMMIT, and the registration rate
on one hot meetup (线下活动) beside raw INSERT+COMMIT measured again just before it.

The platform runs as processes on free ports (``quanzi_devstack.run.Platform``), every
service on its own fresh PostgreSQL database. One community gets ``--members`` members,
who join through onboarding (not timed) and reach activities' projection by Kafka; an
operator sets up a challenge running today in the community's zone (no window, nothing
required in a check-in).

- **Check-ins**: each member checks in once through ``POST
  /v1/activities/challenges/{id}/checkins`` on ``--connections`` keep-alive connections,
  each sending its next request when the last is answered. A check-in is a full request:
  gateway admission (JWT, tenant, rate limits lifted), proxy, activities' transaction (the
  challenge and the seat read, the standing locked, the check-in row, the standing, the
  events in one outbox insert). Raw: the same number of single-row ``INSERT`` statements,
  each its own transaction, on as many asyncpg connections to the same server.
- **Hot drop**: one drop of ``min(members, 1000)`` shares (random split); every member
  claims at once. Each claim takes the drop's one row lock (the conditional update), so
  claims on one drop run one at a time in the database; the figure is that row's rate.
  Raw: the same conditional ``UPDATE … WHERE claimed < slots`` on one row plus a claim
  ``INSERT`` in one transaction, as many times, on as many connections.

- **Hot meetup**: one first-come meetup with half as many seats as members; every member
  registers at once through ``POST /v1/activities/meetups/{id}/registrations``. Each
  registration numbers itself and takes a seat in one conditional update of the meetup's
  row, so the registrations of one meetup run one at a time there, like the drop's
  claims. Raw: the single-row ``INSERT``s again, on a fresh table, right before it.

After the run: every check-in landed once, the drop's claims number its shares and sum to
its total exactly, the meetup holds exactly its capacity and waitlists the rest. Printed:
per second, p50, p99, the ratios, the CPU each service used per check-in, per claim and
per registration while they ran (worker processes included) and the load average (on a
shared machine the rates move with its load). Nothing asserts a timing.

    uv run --frozen python bench/activities.py [--members 2000] [--connections 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

# Run as a script, this file's directory leads sys.path, and this file would shadow the
# activities package.
sys.path.remove(os.path.dirname(os.path.abspath(__file__)))

import aiohttp
import asyncpg
import httpx

from quanzi_devstack.access import GatewaySigner, create_tenant
from quanzi_devstack.benchkit import (
    Figure,
    admin,
    cpu_seconds,
    drive,
    note,
    per_operation,
    raw_inserts,
)
from quanzi_devstack.run import DEFAULT_PORTS, Platform
from servicekit.testing import postgres_admin_dsn, postgres_available

RESULTS = Path(__file__).parent / "results"
AC = "/v1/activities"
OB = "/v1/onboarding"
ZONE = "Asia/Shanghai"
MAX_SHARES = 1000  # a drop's most shares
UNLIMITED = {
    "tenant_rate": 1e9,
    "tenant_burst": 10**9,
    "principal_rate": 1e9,
    "principal_burst": 10**9,
}
PLANS = {name: UNLIMITED for name in ("free", "standard", "enterprise", "anonymous")}


# ------------------------------------------------------------------ raw baselines


async def raw_hot_row(dsn: str, total: int, shares: int, connections: int) -> Figure:
    pool = await asyncpg.create_pool(dsn, min_size=connections, max_size=connections)
    assert pool is not None
    try:
        await pool.execute(
            "CREATE TABLE bench_drops (id int PRIMARY KEY, claimed int NOT NULL,"
            " slots int NOT NULL);"
            "CREATE TABLE bench_claims (member_id text PRIMARY KEY, slot int NOT NULL);"
            f"INSERT INTO bench_drops VALUES (1, 0, {shares})"
        )

        async def claim(n: int) -> str:
            async with pool.acquire() as connection, connection.transaction():
                slot = await connection.fetchval(
                    "UPDATE bench_drops SET claimed = claimed + 1"
                    " WHERE id = 1 AND claimed < slots RETURNING claimed"
                )
                if slot is None:
                    return "empty"
                await connection.execute(
                    "INSERT INTO bench_claims VALUES ($1, $2)", f"m-{n}", slot - 1
                )
            return "ok"

        return await drive("raw hot-row claim", total, connections, claim)
    finally:
        await pool.close()


# ------------------------------------------------------------------ through the gateway


@dataclass(frozen=True)
class Setup:
    tenant_id: str
    owner: dict[str, str]
    community_id: str
    challenge_id: str
    tokens: list[str]


def _eventually(check: Callable[[], Any], what: str, timeout_s: float = 120) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (found := check()):
        if time.monotonic() > deadline:
            raise SystemExit(f"{what}: not within {timeout_s:g} s")
        time.sleep(0.2)
    return found


async def _join_all(platform: Platform, community_id: str, tokens: list[str], n: int) -> None:
    url = f"{platform.gateway_url}{OB}/communities/{community_id}/join"
    connector = aiohttp.TCPConnector(limit=n)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def join(i: int) -> str:
            headers = {"Authorization": f"Bearer {tokens[i]}"}
            async with session.post(url, headers=headers) as response:
                await response.read()
                return str(response.status)

        joined = await drive("joins (set-up)", len(tokens), n, join)
    if joined.outcomes != {"201": len(tokens)}:
        raise SystemExit(f"joins: {joined.outcomes}")


def set_up(platform: Platform, signer: GatewaySigner, members: int, connections: int) -> Setup:
    tenant_id = create_tenant(platform, f"bench-{uuid.uuid4().hex[:8]}")
    owner = {"Authorization": f"Bearer {signer.operator(tenant_id)}"}
    tokens = [signer.member(tenant_id, f"member-{n}") for n in range(members)]
    today = datetime.now(UTC).astimezone(ZoneInfo(ZONE)).date()
    with httpx.Client(base_url=platform.gateway_url, headers=owner, timeout=30) as client:
        community = client.post(
            f"{OB}/communities", json={"slug": "bench", "name": "打卡压测", "timezone": ZONE}
        )
        community.raise_for_status()
        community_id = community.json()["id"]
        note(f"set-up: {members:,} members join (not timed)")
        asyncio.run(_join_all(platform, community_id, tokens, connections))
        body = {
            "community_id": community_id,
            "title": "压测打卡",
            "start_date": (today - timedelta(days=1)).isoformat(),
            "end_date": (today + timedelta(days=30)).isoformat(),
            "required_days": 7,
        }
        challenge = _eventually(
            lambda: (r := client.post(f"{AC}/challenges", json=body)).status_code == 201 and r,
            "the community reaching activities",
        )
        challenge_id = challenge.json()["id"]
        note("set-up: waiting for every member to reach activities' projection")
        for n in (*range(0, members, max(1, members // 50)), members - 1):
            member = {"Authorization": f"Bearer {tokens[n]}"}

            def seated(headers: dict[str, str] = member) -> bool:
                url = f"{AC}/challenges/{challenge_id}"
                return client.get(url, headers=headers).status_code == 200

            _eventually(seated, f"member-{n} reaching activities")
    return Setup(tenant_id, owner, community_id, challenge_id, tokens)


async def check_ins(platform: Platform, setup: Setup, connections: int) -> Figure:
    url = f"{platform.gateway_url}{AC}/challenges/{setup.challenge_id}/checkins"
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def check_in(n: int) -> str:
            headers = {"Authorization": f"Bearer {setup.tokens[n]}"}
            async with session.post(url, headers=headers, json={}) as response:
                await response.read()
                return str(response.status)

        return await drive("check-in via gateway", len(setup.tokens), connections, check_in)


async def hot_drop(
    platform: Platform, setup: Setup, connections: int
) -> tuple[Figure, dict[str, Any]]:
    shares = min(len(setup.tokens), MAX_SHARES)
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=30) as client:
        funded = await client.post(  # the drop's points come from the operator's budget
            "/v1/rewards/budget/fundings",
            headers={**setup.owner, "Idempotency-Key": str(uuid.uuid4())},
            json={"points": 10 * shares, "reason": "bench"},
        )
        funded.raise_for_status()
        created = await client.post(
            f"{AC}/drops",
            headers=setup.owner,
            json={
                "community_id": setup.community_id,
                "total_points": 10 * shares,
                "slots": shares,
                "split": "random",
                "expires_in_minutes": 60,
            },
        )
        created.raise_for_status()
        drop = created.json()
    url = f"{platform.gateway_url}{AC}/drops/{drop['id']}/claims"
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def claim(n: int) -> str:
            headers = {"Authorization": f"Bearer {setup.tokens[n]}"}
            async with session.post(url, headers=headers) as response:
                await response.read()
                return str(response.status)

        figure = await drive("drop claim via gateway", len(setup.tokens), connections, claim)
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=30) as client:
        claims = (await client.get(f"{AC}/drops/{drop['id']}/claims", headers=setup.owner)).json()
    check = {
        "shares": shares,
        "total_points": drop["total_points"],
        "claims": len(claims),
        "points_claimed": sum(c["points"] for c in claims),
    }
    return figure, check


async def hot_meetup(
    platform: Platform, setup: Setup, connections: int
) -> tuple[Figure, dict[str, Any]]:
    """Every member registers for one first-come meetup of ``members // 2`` seats."""
    capacity = max(1, len(setup.tokens) // 2)
    now = datetime.now(UTC)
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=30) as client:
        created = await client.post(
            f"{AC}/meetups",
            headers=setup.owner,
            json={
                "community_id": setup.community_id,
                "title": "压测线下活动",
                "city": "杭州",
                "venue": "bench",
                "capacity": capacity,
                "opens_at": (now - timedelta(minutes=5)).isoformat(),
                "closes_at": (now + timedelta(days=1)).isoformat(),
                "starts_at": (now + timedelta(days=2)).isoformat(),
                "ends_at": (now + timedelta(days=2, hours=3)).isoformat(),
            },
        )
        created.raise_for_status()
        meetup = created.json()
    url = f"{platform.gateway_url}{AC}/meetups/{meetup['id']}/registrations"
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def register(n: int) -> str:
            headers = {"Authorization": f"Bearer {setup.tokens[n]}"}
            async with session.post(url, headers=headers, json={}) as response:
                await response.read()
                return str(response.status)

        figure = await drive("meetup reg. via gateway", len(setup.tokens), connections, register)
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=60) as client:
        rows = (await client.get(url, headers=setup.owner)).json()
        seats = (await client.get(f"{AC}/meetups/{meetup['id']}", headers=setup.owner)).json()
    check = {
        "capacity": capacity,
        "seats_taken": seats["seats_taken"],
        "confirmed": sum(r["status"] == "confirmed" for r in rows),
        "waitlisted": sum(r["status"] == "waitlisted" for r in rows),
    }
    return figure, check


async def raw_inserts_again(dsn: str, total: int, connections: int) -> Figure:
    """The INSERT+COMMIT baseline once more, on a fresh table, beside the meetup."""
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("DROP TABLE IF EXISTS bench_rows")
    finally:
        await connection.close()
    figure = await raw_inserts(dsn, total, connections)
    return replace(figure, case="raw INSERT+COMMIT again")


# ------------------------------------------------------------------ the run


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
    env = {"QUANZI_GATEWAY_RATE_LIMIT_PLANS": json.dumps(PLANS)}  # measure, not 429s
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="quanzi-bench-") as workdir:
        platform = Platform.on_free_ports(
            Path(workdir), quiet=True, extra_env=env, database_urls=urls
        )
        try:
            note("starting the platform on PostgreSQL")
            platform.start()
            asyncio.run(admin(f'CREATE DATABASE "{raw_name}"'))
            raw_dsn = f"{server}/{raw_name}"
            setup = set_up(platform, GatewaySigner.of(platform), args.members, args.connections)
            note(f"raw: {args.members:,} single-row INSERT+COMMIT")
            result["raw"] = asyncio.run(raw_inserts(raw_dsn, args.members, args.connections))
            time.sleep(args.settle)  # the joins' events still being consumed
            note(f"ours: {args.members:,} check-ins through the gateway")
            before = cpu_seconds(platform)
            result["checkins"] = asyncio.run(check_ins(platform, setup, args.connections))
            result["cpu_ms_per_checkin"] = per_operation(
                before, cpu_seconds(platform), args.members
            )
            shares = min(args.members, MAX_SHARES)
            note(f"raw: {args.members:,} claims of one row of {shares} shares")
            result["raw_hot"] = asyncio.run(
                raw_hot_row(raw_dsn, args.members, shares, args.connections)
            )
            note(f"ours: {args.members:,} claims of one drop of {shares} shares")
            before = cpu_seconds(platform)
            result["drop"], result["drop_check"] = asyncio.run(
                hot_drop(platform, setup, args.connections)
            )
            result["cpu_ms_per_claim"] = per_operation(before, cpu_seconds(platform), args.members)
            note(f"raw: {args.members:,} single-row INSERT+COMMIT, beside the meetup")
            result["raw_meetup"] = asyncio.run(
                raw_inserts_again(raw_dsn, args.members, args.connections)
            )
            note(f"ours: {args.members:,} registrations for one meetup")
            before = cpu_seconds(platform)
            result["meetup"], result["meetup_check"] = asyncio.run(
                hot_meetup(platform, setup, args.connections)
            )
            result["cpu_ms_per_registration"] = per_operation(
                before, cpu_seconds(platform), args.members
            )
        except Exception:
            for service in ("gateway", "activities"):  # the logs vanish with the directory
                log = (Path(workdir) / f"{service}.log").read_text(errors="replace")
                print(f"--- {service}.log (end)\n{log[-3000:]}", file=sys.stderr)
            raise
        finally:
            platform.stop()
            asyncio.run(
                admin(
                    *(
                        f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
                        for name in [*names.values(), raw_name]
                    )
                )
            )
    report(result)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"activities-{stamp}.json"
    serialisable = {k: asdict(v) if isinstance(v, Figure) else v for k, v in result.items()}
    out.write_text(json.dumps({"args": vars(args), **serialisable}, indent=2))
    print(f"\nfull results: {out}")


def report(result: dict[str, Any]) -> None:
    print(
        f"\n{'case':<24} {'ops':>7} {'seconds':>8} {'per s':>8} {'p50 ms':>8} {'p99 ms':>8}"
        "  outcomes"
    )
    for key in ("raw", "checkins", "raw_hot", "drop", "raw_meetup", "meetup"):
        f = result[key]
        print(
            f"{f.case:<24} {f.operations:>7,} {f.seconds:>8.2f} {f.per_s:>8,.0f}"
            f" {f.p50_ms:>8.1f} {f.p99_ms:>8.1f}  {f.outcomes}"
        )
    ratio = result["checkins"].per_s / result["raw"].per_s
    print(f"\ncheck-ins/s through the gateway ÷ raw INSERT+COMMIT/s = {ratio:.2f}×")
    hot = result["drop"].per_s / result["raw_hot"].per_s
    print(f"claims/s on one hot drop through the gateway ÷ raw hot-row claims/s = {hot:.2f}×")
    meetup = result["meetup"].per_s / result["raw_meetup"].per_s
    print(
        "registrations/s on one hot meetup through the gateway ÷ raw INSERT+COMMIT/s"
        f" (beside it) = {meetup:.2f}×"
    )
    for key, what in (
        ("cpu_ms_per_checkin", "check-in"),
        ("cpu_ms_per_claim", "claim"),
        ("cpu_ms_per_registration", "registration"),
    ):
        cpu = ", ".join(f"{name} {ms:.1f}" for name, ms in result[key].items())
        print(f"CPU ms per {what}, by service, while they ran: {cpu} ({os.cpu_count()} cores)")
    print(f"load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    check = result["drop_check"]
    print(
        f"drop: {check['claims']} claims of {check['shares']} shares,"
        f" {check['points_claimed']} of {check['total_points']} points"
    )
    seats = result["meetup_check"]
    print(
        f"meetup: {seats['confirmed']} confirmed of {seats['capacity']} seats"
        f" (seats taken {seats['seats_taken']}), {seats['waitlisted']} waitlisted"
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--settle", type=float, default=10.0, help="seconds after the set-up, before measuring"
    )
    return parser.parse_args(argv)


def main() -> None:
    run(parse_args())


if __name__ == "__main__":
    main()
