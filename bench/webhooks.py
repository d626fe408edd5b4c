"""Webhooks benchmark: deliveries per second to a local receiver beside raw aiohttp POSTs to
the same receiver in the same run, and the lag from an event's commit to its delivery.

The receiver is an aiohttp server in its own process (answers 200 at once, notes when
each ``webhook-id`` arrived). The integrations service runs in this process on a fresh
database (SQLite by default, ``--postgres`` for PostgreSQL), with its real handlers,
timers and dispatcher; events are applied through the webhooks consumer's handler, as
the consumer runner applies a poll (no broker: the broker's part is ``bench/pipeline.py``).

  raw         N POSTs of a webhook-sized body with aiohttp, C at a time.
  deliveries  N events applied by the webhooks handler in polls of 500 (each message
              claimed in the poll's transaction and sent when it commits), C requests in
              flight to the endpoint; timed from the first poll to the last outcome
              recorded (fan-out, claim, sign, POST, record: all of it).
  lag         M events applied at R a second with the service's own timer loop running
              (its default poll interval): the time from each event's commit to its
              arrival at the receiver, p50 and p99.

Nothing asserts a timing: it prints figures and ratios.

    uv run --frozen python bench/webhooks.py [--messages N] [--connections C] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import event as sa_event
from sqlalchemy import func, select

from integrations import app as integrations_app
from integrations.orm import webhook_deliveries
from integrations.settings import Settings
from integrations.webhooks import delivery, endpoints
from integrations.webhooks import handlers as webhooks
from servicekit.auth import Principal
from servicekit.db import read_only, transaction
from servicekit.devbroker import free_port
from servicekit.events import Event
from servicekit.migrations import upgrade
from servicekit.service_cli import alembic_ini
from servicekit.testing import fresh_database
from servicekit.timers import TimerRunner
from servicekit.types import utcnow

TENANT = "t-bench"


def serve_receiver(port: int) -> None:
    arrivals: dict[str, float] = {}

    async def hook(request: web.Request) -> web.Response:
        await request.read()
        arrivals.setdefault(request.headers.get("webhook-id", uuid.uuid4().hex), time.time())
        return web.Response(text="ok")

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(arrivals)

    app = web.Application()
    app.router.add_post("/hooks", hook)
    app.router.add_get("/stats", stats)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def event(member: int) -> Event:
    return Event(
        type="quanzi.onboarding.membership.activated.v1",
        source="/bench",
        tenant_id=TENANT,
        topic="onboarding.memberships",
        key=f"m-{member}",
        data={
            "tenant_id": TENANT,
            "membership_id": f"ms-{member}",
            "member_id": f"m-{member}",
            "community_id": "c-1",
            "tier": "core",
            "group_id": "g-1",
            "source": {"kind": "open"},
            "activated_at": "2026-12-01T08:00:00+00:00",
        },
    )


async def raw(url: str, n: int, connections: int) -> float:
    body = json.dumps({"type": "membership.activated", "data": event(0).data}).encode()
    headers = {"content-type": "application/json", "webhook-id": "raw"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections)) as http:
        slots = asyncio.Semaphore(connections)

        async def post() -> None:
            async with slots, http.post(url, data=body, headers=headers) as response:
                await response.read()

        started = time.perf_counter()
        await asyncio.gather(*(post() for _ in range(n)))
        return n / (time.perf_counter() - started)


@asynccontextmanager
async def service_app(url: str, connections: int, timers: bool) -> AsyncIterator[Any]:
    settings = Settings(
        database_url=url,
        kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",  # no broker: the outbox keeps events
        consumers_enabled=False,
        relay_enabled=False,
        timers_enabled=timers,
        jwks_json=json.dumps({"keys": []}),
        webhooks_allow_private=True,
        webhooks_allow_http=True,
        webhooks_endpoint_concurrency=connections,
        log_level="WARNING",
    )
    await asyncio.to_thread(upgrade, alembic_ini("integrations"), url)
    app = integrations_app.create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


async def endpoint(app: Any, url: str) -> None:
    owner = Principal(TENANT, "op-1", frozenset({"owner"}), "access")
    draft = endpoints.Draft(url, "bench", ["membership.*"], True)
    policy = endpoints.Policy.of(app.state.settings)
    async with transaction(app.state.sessions) as session:
        await endpoints.create(session, owner, draft, utcnow(), policy, delivery.resolve)


async def delivered(app: Any) -> int:
    async with read_only(app.state.sessions) as session:
        query = select(func.count()).where(webhook_deliveries.c.status == "delivered")
        return int((await session.execute(query)).scalar_one())


async def deliveries(url: str, hook: str, n: int, connections: int) -> tuple[float, float]:
    """Events in, deliveries recorded: timed from the first fan-out transaction to the last
    outcome recorded (first attempts go as each fan-out transaction commits)."""
    async with service_app(url, connections, timers=False) as app:
        await endpoint(app, hook)
        started = time.perf_counter()
        for start in range(0, n, 500):
            async with transaction(app.state.sessions) as session:
                batch = [event(i) for i in range(start, min(n, start + 500))]
                await webhooks.on_events(session, batch)
        fan_out = n / (time.perf_counter() - started)
        await app.state.dispatcher.idle()
        runner = TimerRunner(app.state.sessions, integrations_app.TIMERS, batch_size=200)
        while await delivered(app) < n:  # none are left for the timers when all went well
            if not await runner.fire_due():
                await asyncio.sleep(0.01)
            await app.state.dispatcher.idle()
        return n / (time.perf_counter() - started), fan_out


async def lag(url: str, hook: str, stats_url: str, m: int, rate: float) -> tuple[float, float]:
    async with service_app(url, 16, timers=True) as app:
        await endpoint(app, hook)
        committed: dict[str, float] = {}
        base = 1_000_000
        for i in range(m):
            one = event(base + i)
            async with transaction(app.state.sessions) as session:
                stamp: list[float] = []
                sa_event.listen(
                    session.sync_session,
                    "after_commit",
                    lambda _, stamp=stamp: stamp.append(time.time()),
                )
                await webhooks.on_events(session, [one])
            committed["msg_" + one.id.replace("-", "")] = stamp[0]  # the commit's instant
            await asyncio.sleep(1 / rate)
        deadline = time.monotonic() + 60
        async with aiohttp.ClientSession() as http:
            while True:
                async with http.get(stats_url) as response:
                    arrivals = await response.json()
                if all(k in arrivals for k in committed) or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
    lags = sorted((arrivals[k] - t) * 1000 for k, t in committed.items() if k in arrivals)
    return statistics.median(lags), lags[max(0, int(len(lags) * 0.99) - 1)]


async def main(args: argparse.Namespace) -> None:
    port = free_port()
    receiver = multiprocessing.Process(target=serve_receiver, args=(port,), daemon=True)
    receiver.start()
    hook = f"http://127.0.0.1:{port}/hooks"
    for _ in range(100):
        try:
            async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/stats"):
                break
        except aiohttp.ClientError:
            await asyncio.sleep(0.1)
    backend = "postgres" if args.postgres else "sqlite"
    try:
        with tempfile.TemporaryDirectory() as work:
            raw_rate = await raw(hook, args.messages, args.connections)
            async with fresh_database(backend, Path(work)) as url:
                ours, fan_out = await deliveries(url, hook, args.messages, args.connections)
            async with fresh_database(backend, Path(work)) as url:
                p50, p99 = await lag(
                    url, hook, f"http://127.0.0.1:{port}/stats", args.lag_events, args.rate
                )
    finally:
        receiver.terminate()
    print(f"webhooks on {backend}, {args.messages} messages, {args.connections} in flight")
    print(f"  raw aiohttp POSTs      {raw_rate:8.0f} /s")
    print(f"  deliveries (ours)      {ours:8.0f} /s   {ours / raw_rate:.2f}x raw")
    print(f"  fan-out commits alone  {fan_out:8.0f} /s")
    print(
        f"  lag commit->delivery   p50 {p50:.0f} ms, p99 {p99:.0f} ms "
        f"({args.lag_events} events at {args.rate:.0f}/s)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--lag-events", type=int, default=300)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--quick", action="store_true")
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.messages, arguments.lag_events = 500, 100
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main(arguments))
    sys.exit(0)
