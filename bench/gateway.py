"""Gateway benchmark: the same requests straight to a service and through the gateway.

The platform runs as processes on free ports (``quanzi_devstack.run.Platform``).
Beside it, this script starts one gateway process per proxy engine (aiohttp, the
default, and httpx, measured to justify the choice), each the real gateway app
(authentication, tenant check, rate limits, proxy) with the engine selected, and
a small service that reads the database. One asyncio load generator (aiohttp,
keep-alive, N connections each sending its next request when the last answer
is in) drives every target in turn:

  trivial  GET /v1/rewards/whoami: the service verifies the JWT, no database.
  db       GET /v1/benchdb/items/{id}: a service built with servicekit
           (create_service_app) verifies the JWT and reads one row through
           SQLAlchemy async (SQLite, as the platform runs by default). The four
           services have no database read yet and /readyz is not routed.

Printed: requests/s, p50, p99 per target, and via-gateway / direct ratios.
Goals: trivial ≥ 0.4× direct, db ≥ 0.7× direct (throughput, 64 connections),
at most 0.5 ms added p50 at 1 connection. Nothing asserts a timing.

    uv run --frozen python bench/gateway.py [--seconds 5] [--warmup 1]
                                            [--connections 1,64] [--engines aiohttp,httpx]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

# Run as a script, this file's directory leads sys.path, and this file would shadow the
# gateway package it measures.
sys.path.remove(os.path.dirname(os.path.abspath(__file__)))

import aiohttp
import httpx
import uvicorn
import uvloop
from fastapi import APIRouter, FastAPI, HTTPException, Request
from pydantic_settings import SettingsConfigDict
from sqlalchemy import text

from gateway.app import create_app
from gateway.settings import Settings
from quanzi_devstack.access import GatewaySigner, create_tenant
from quanzi_devstack.run import Platform
from servicekit.app import ServiceSpec, create_service_app
from servicekit.auth import CurrentPrincipal
from servicekit.db import create_engine, read_only
from servicekit.devbroker import free_port
from servicekit.settings import ServiceSettings

RESULTS = Path(__file__).parent / "results"
SERVICE = "rewards"
DB_ROWS = 1000
UNLIMITED = {"tenant_rate": 1e9, "tenant_burst": 10**9, "principal_rate": 1e9}
PLANS = {
    name: {**UNLIMITED, "principal_burst": 10**9}
    for name in ("free", "standard", "enterprise", "anonymous")
}
GOALS = {"trivial": 0.4, "db": 0.7}
GOAL_ADDED_P50_MS = 0.5


# --- the processes this script serves itself ---------------------------------------------


class BenchGatewaySettings(Settings):
    """The gateway's settings plus the engine choice (``QUANZI_GATEWAY_PROXY_ENGINE``)."""

    proxy_engine: Literal["aiohttp", "httpx"] = "aiohttp"


class BenchDbSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="QUANZI_BENCHDB_", extra="ignore")
    service_name: str = "benchdb"


def serve_gateway(port: int) -> None:
    _serve(create_app(BenchGatewaySettings()), port)


def serve_db(port: int) -> None:
    settings = BenchDbSettings()
    asyncio.run(_fill(settings.database_url))
    router = APIRouter()

    @router.get("/v1/benchdb/items/{item_id}")
    async def item(item_id: int, request: Request, _: CurrentPrincipal) -> dict[str, Any]:
        async with read_only(request.app.state.sessions) as session:
            row = (
                await session.execute(
                    text("SELECT id, name FROM bench_items WHERE id = :id"), {"id": item_id}
                )
            ).first()
        if row is None:
            raise HTTPException(404)
        return {"id": row.id, "name": row.name}

    _serve(create_service_app(ServiceSpec(settings, "benchdb", routers=[router])), port)


async def _fill(database_url: str) -> None:
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.execute(
            text("CREATE TABLE IF NOT EXISTS bench_items (id INTEGER PRIMARY KEY, name TEXT)")
        )
        await connection.execute(text("DELETE FROM bench_items"))
        await connection.execute(
            text("INSERT INTO bench_items (id, name) VALUES (:id, :name)"),
            [{"id": n, "name": f"item {n}"} for n in range(1, DB_ROWS + 1)],
        )
    await engine.dispose()


def _serve(app: FastAPI, port: int) -> None:
    # As servicekit.service_cli serves every service.
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        loop="uvloop",
        http="httptools",
    )


# --- the load generator -------------------------------------------------------------------


@dataclass
class Figure:
    case: str
    connections: int
    target: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: dict[str, int]


async def load(
    url: str, headers: dict[str, str], connections: int, seconds: float, warmup: float
) -> tuple[float, float, float, dict[str, int]]:
    """(req/s, p50 ms, p99 ms, non-200 answers) over ``seconds`` after ``warmup``."""
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    start = time.perf_counter()
    measure_from, stop_at = start + warmup, start + warmup + seconds
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def worker() -> None:
            while (sent := time.perf_counter()) < stop_at:
                try:
                    async with session.get(url) as response:
                        await response.read()
                        status = str(response.status)
                except aiohttp.ClientError as error:
                    status = type(error).__name__
                if sent >= measure_from:
                    latencies.append(time.perf_counter() - sent)
                    if status != "200":
                        errors[status] += 1

        await asyncio.gather(*(worker() for _ in range(connections)))
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    return len(latencies) / seconds, p50, p99, dict(errors)


# --- orchestration ------------------------------------------------------------------------


@dataclass
class Targets:
    token: str
    direct: dict[str, str]  # case -> URL
    gateways: dict[str, str]  # engine -> base URL
    paths: dict[str, str]  # case -> path


def start_process(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    out = log.open("ab")
    return subprocess.Popen(
        [sys.executable, __file__, *args], env=env, stdout=out, stderr=out, start_new_session=True
    )


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {process.returncode}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not become healthy")


def mint_token(platform: Platform) -> str:
    """A tenant made through the platform admin API and a token signed with the gateway's key."""
    tenant_id = create_tenant(platform, f"bench-{os.getpid()}")
    return GatewaySigner.of(platform).operator(tenant_id)


def start_extras(
    platform: Platform, engines: Sequence[str], procs: list[subprocess.Popen[bytes]]
) -> Targets:
    db_port = free_port()
    db_url = f"http://127.0.0.1:{db_port}"
    db_env = {
        **os.environ,
        "QUANZI_BENCHDB_DATABASE_URL": f"sqlite+aiosqlite:///{platform.var_dir / 'benchdb.db'}",
        "QUANZI_BENCHDB_KAFKA_BOOTSTRAP_SERVERS": platform.bootstrap_servers,
        "QUANZI_BENCHDB_JWKS_URL": platform.gateway_url + "/.well-known/jwks.json",
    }
    procs.append(start_process(["serve-db", str(db_port)], db_env, platform.var_dir / "db.log"))
    wait_healthy(db_url, procs[-1])
    gateways = {}
    for engine in engines:
        port = free_port()
        env = platform.env_for("gateway")
        upstreams = {**json.loads(env["QUANZI_GATEWAY_UPSTREAMS"]), "benchdb": db_url}
        env |= {
            "QUANZI_GATEWAY_UPSTREAMS": json.dumps(upstreams),
            "QUANZI_GATEWAY_ROUTES": json.dumps({f"/v1/{n}": n for n in upstreams}),
            "QUANZI_GATEWAY_PROXY_ENGINE": engine,
            "QUANZI_GATEWAY_RELAY_ENABLED": "false",  # the platform's gateway relays
            "QUANZI_GATEWAY_TIMERS_ENABLED": "false",
        }
        log = platform.var_dir / f"gateway-{engine}.log"
        procs.append(start_process(["serve-gateway", str(port)], env, log))
        gateways[engine] = f"http://127.0.0.1:{port}"
        wait_healthy(gateways[engine], procs[-1])
    return Targets(
        token=mint_token(platform),
        direct={"trivial": platform.url(SERVICE), "db": db_url},
        gateways=gateways,
        paths={"trivial": f"/v1/{SERVICE}/whoami", "db": "/v1/benchdb/items/7"},
    )


async def measure(targets: Targets, args: argparse.Namespace) -> list[Figure]:
    headers = {"Authorization": f"Bearer {targets.token}"}
    figures = []
    for case, path in targets.paths.items():
        for connections in args.connections:
            bases = {"direct": targets.direct[case]} | {
                f"gateway-{e}": url for e, url in targets.gateways.items()
            }
            for name, base in bases.items():
                rps, p50, p99, errors = await load(
                    base + path, headers, connections, args.seconds, args.warmup
                )
                figures.append(Figure(case, connections, name, rps, p50, p99, errors))
                print(
                    f"  {case:<8}{connections:>4}  {name:<16}{rps:>9.0f} req/s"
                    f"  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  {errors or ''}",
                    file=sys.stderr,
                    flush=True,
                )
    return figures


def report(figures: Sequence[Figure]) -> list[str]:
    direct = {(f.case, f.connections): f for f in figures if f.target == "direct"}
    lines = [
        f"{'case':<8}{'conns':>6}  {'target':<16}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'×direct':>9}{'+p50 ms':>9}",
    ]
    for f in figures:
        base = direct[(f.case, f.connections)]
        ratio = f.requests_per_s / base.requests_per_s if base.requests_per_s else 0.0
        added = f.p50_ms - base.p50_ms
        extra = "" if f.target == "direct" else f"{ratio:>9.2f}{added:>9.2f}"
        lines.append(
            f"{f.case:<8}{f.connections:>6}  {f.target:<16}{f.requests_per_s:>9.0f}"
            f"{f.p50_ms:>9.2f}{f.p99_ms:>9.2f}{extra}"
            + (f"  errors {f.errors}" if f.errors else "")
        )
    lines += goals(figures, direct)
    return lines


def goals(figures: Sequence[Figure], direct: dict[tuple[str, int], Figure]) -> list[str]:
    lines = ["", "goals (default engine, aiohttp):"]
    for f in figures:
        if f.target != "gateway-aiohttp":
            continue
        base = direct[(f.case, f.connections)]
        if f.connections == max(c for _, c in direct):
            ratio = f.requests_per_s / base.requests_per_s
            verdict = "met" if ratio >= GOALS[f.case] else "MISSED"
            lines.append(
                f"  {f.case} throughput at {f.connections} connections: "
                f"{ratio:.2f}× (goal ≥ {GOALS[f.case]}×) {verdict}"
            )
        if f.connections == 1:
            added = f.p50_ms - base.p50_ms
            verdict = "met" if added <= GOAL_ADDED_P50_MS else "MISSED"
            lines.append(
                f"  {f.case} added p50 at 1 connection: {added:.2f} ms "
                f"(goal ≤ {GOAL_ADDED_P50_MS} ms) {verdict}"
            )
    return lines


def run(args: argparse.Namespace) -> None:
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="quanzi-bench-gateway-"))
    env = {
        "QUANZI_GATEWAY_RATE_LIMIT_PLANS": json.dumps(PLANS),  # measure the proxy, not 429s
        "QUANZI_GATEWAY_LOG_LEVEL": "WARNING",
    }
    platform = Platform.on_free_ports(workdir, quiet=True, extra_env=env)
    procs: list[subprocess.Popen[bytes]] = []
    print(f"starting the platform in {workdir}", file=sys.stderr, flush=True)
    try:
        platform.start()
        targets = start_extras(platform, args.engines, procs)
        print(
            f"measuring {args.seconds:g} s per target after {args.warmup:g} s of warm-up",
            file=sys.stderr,
            flush=True,
        )
        figures = uvloop.run(measure(targets, args))
    finally:
        for process in procs:
            process.terminate()
        for process in procs:
            process.wait(timeout=15)
        platform.stop()
    print("\n" + "\n".join(report(figures)))
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"gateway-{stamp}.json"
    details = {"args": vars(args), "cpus": os.cpu_count(), "figures": [asdict(f) for f in figures]}
    path.write_text(json.dumps(details, indent=2))
    print(f"\nrun took {time.monotonic() - started:.0f}s; results in {path}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per target")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds left out first")
    parser.add_argument(
        "--connections",
        type=lambda s: [int(n) for n in s.split(",")],
        default=[1, 64],
        help="comma-separated connection counts",
    )
    parser.add_argument(
        "--engines",
        type=lambda s: s.split(","),
        default=["aiohttp", "httpx"],
        help="proxy engines to measure (aiohttp is the gateway's)",
    )
    return parser.parse_args(argv)


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] in ("serve-gateway", "serve-db"):
        (serve_gateway if sys.argv[1] == "serve-gateway" else serve_db)(int(sys.argv[2]))
        return
    run(parse_args())


if __name__ == "__main__":
    main()
