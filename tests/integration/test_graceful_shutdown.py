"""SIGTERM, as Kubernetes sends it, to a real service process under a light load.

The process (``quanzi-onboarding serve``: uvicorn, the relay, consumers and timers) must stop
taking connections at once, finish the requests in flight, stop its runtime and exit within
the termination grace period; no request may get a 5xx (a refused or dropped connection is
allowed: the request was never handled). Nothing is lost: every community written before the
signal has its ``community.created`` event on the topic once the service has run again, and
once only.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from servicekit.db import create_engine
from servicekit.devbroker import DevBroker, free_port
from servicekit.migrations import upgrade
from servicekit.testing import TokenMint

REPO = Path(__file__).resolve().parents[2]
SERVICE = "onboarding"
TOPIC = "onboarding.communities"
GRACE_PERIOD_S = 30  # deploy/k8s: terminationGracePeriodSeconds
WORKERS = 4
# uvicorn re-raises the signal once it has shut down: the exit status says SIGTERM, as a
# process without a handler would, after a complete graceful shutdown.
CLEAN_EXIT = (0, -signal.SIGTERM)
# A request whose connection was refused or dropped before any answer was never handled.
NOT_HANDLED = (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError)


@dataclass
class Load:
    """Light, steady traffic: ``WORKERS`` clients creating communities one after another."""

    base_url: str
    headers: dict[str, str]
    statuses: Counter[int] = field(default_factory=Counter)
    not_handled: Counter[str] = field(default_factory=Counter)
    created: set[str] = field(default_factory=set)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def worker(self, index: int) -> None:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=20) as client:
            for n in range(5_000):  # bounded; normally ended by `stop`
                if self.stop.is_set():
                    return
                body = {"slug": f"w{index}-{n}-{uuid.uuid4().hex[:6]}", "name": f"圈 {index}/{n}"}
                try:
                    answer = await client.post(
                        "/v1/onboarding/communities", json=body, headers=self.headers
                    )
                except NOT_HANDLED as error:
                    self.not_handled[type(error).__name__] += 1
                    await asyncio.sleep(0.05)  # the port is closed: do not spin
                    continue
                self.statuses[answer.status_code] += 1
                if answer.status_code == 201:
                    self.created.add(answer.json()["id"])


class ServiceProcess:
    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        program = Path(sys.executable).parent / f"quanzi-{SERVICE}"
        argv = [str(program), "serve", "--host", "127.0.0.1", "--port", str(port)]
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                argv, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT
            )

    async def wait_ready(self, timeout: float = 120) -> None:
        async def ready() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"{SERVICE} exited at start: {self.tail()}")
            try:
                async with httpx.AsyncClient(base_url=self.base_url, timeout=2) as client:
                    return (await client.get("/readyz")).status_code == 200
            except httpx.HTTPError:
                return False

        await eventually(ready, timeout, f"{SERVICE} ready ({self.tail()})")

    def accepts_connections(self) -> bool:
        with socket.socket() as probe:
            probe.settimeout(1)
            return probe.connect_ex(("127.0.0.1", self.port)) == 0

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for: {what}")


async def in_flight(client: httpx.AsyncClient, method: str) -> float:
    metrics = (await client.get("/metrics")).text
    for family in text_string_to_metric_families(metrics):
        if family.name == "quanzi_http_requests_in_flight":
            for sample in family.samples:
                if sample.labels.get("method") == method:
                    return float(sample.value)
    return 0.0


async def scalar_rows(url: str, sql: str, **params: str) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return [tuple(row) for row in (await connection.execute(text(sql), params)).all()]
    finally:
        await engine.dispose()


async def events_on_topic(bootstrap: str, tenant_id: str) -> list[tuple[str, str]]:
    """``(type, community id)`` of the tenant's events on the topic, duplicates included."""
    consumer = AIOKafkaConsumer(
        TOPIC, bootstrap_servers=bootstrap, auto_offset_reset="earliest", fetch_max_wait_ms=10
    )
    await consumer.start()
    found = []
    try:
        while batches := await consumer.getmany(timeout_ms=1500):
            for record in (r for part in batches.values() for r in part):
                headers = {k: bytes(v).decode() for k, v in record.headers or ()}
                if headers.get("ce_tenantid") == tenant_id:
                    data = json.loads(record.value)
                    found.append((headers["ce_type"], data["community_id"]))
        return found
    finally:
        await consumer.stop()


@contextmanager
def running(processes: list[ServiceProcess]) -> Iterator[None]:
    try:
        yield
    finally:
        for process in processes:
            process.kill()


@pytest.fixture
async def service_env(
    database_url: str, dev_broker: DevBroker, token_mint: TokenMint
) -> AsyncIterator[dict[str, str]]:
    await asyncio.to_thread(upgrade, REPO / "services" / SERVICE / "alembic.ini", database_url)
    prefix = f"QUANZI_{SERVICE.upper()}_"
    yield {
        **os.environ,
        prefix + "DATABASE_URL": database_url,
        prefix + "KAFKA_BOOTSTRAP_SERVERS": dev_broker.bootstrap_servers,
        prefix + "JWKS_JSON": json.dumps(token_mint.jwks()),
        prefix + "LOG_LEVEL": "INFO",
    }


async def test_sigterm_under_load_drains_requests_and_loses_nothing(
    service_env: dict[str, str],
    database_url: str,
    dev_broker: DevBroker,
    token_mint: TokenMint,
    tmp_path: Path,
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    token = token_mint.mint(tenant_id=tenant, subject="op-1", roles=["owner"])
    auth = {"Authorization": f"Bearer {token}"}
    first = ServiceProcess(service_env, free_port(), tmp_path / "service.log")
    processes = [first]
    with running(processes):
        await first.wait_ready()
        load = Load(first.base_url, auth)
        workers = [asyncio.create_task(load.worker(i)) for i in range(WORKERS)]
        await eventually(lambda: _true(load.statuses[201] >= 40), 60, "40 communities created")

        # One request caught mid-way by the signal: its headers and half its body are sent,
        # the rest only after SIGTERM. The process must wait for it and answer it.
        async with httpx.AsyncClient(base_url=first.base_url, timeout=30) as client:
            target = (
                await client.post(
                    "/v1/onboarding/communities", json={"slug": "slow", "name": "慢"}, headers=auth
                )
            ).json()["id"]
            release = asyncio.Event()

            async def body() -> AsyncIterator[bytes]:
                yield b'{"name": '
                await release.wait()
                yield '"改名 during shutdown"}'.encode()

            slow = asyncio.create_task(
                client.patch(
                    f"/v1/onboarding/communities/{target}",
                    content=body(),
                    headers={**auth, "Content-Type": "application/json"},
                )
            )
            async with httpx.AsyncClient(base_url=first.base_url, timeout=5) as scraper:

                async def patch_in_flight() -> bool:
                    return await in_flight(scraper, "PATCH") >= 1

                await eventually(patch_in_flight, 10, "the PATCH reached the service")
            created_before_signal = load.statuses[201]

            first.process.send_signal(signal.SIGTERM)
            signalled = time.monotonic()

            async def refusing() -> bool:
                return not first.accepts_connections()

            await eventually(refusing, 10, "the listening socket closed")
            assert first.process.poll() is None, "exited with a request in flight"
            release.set()
            answer = await slow
        assert answer.status_code == 200, answer.text
        assert answer.json()["name"] == "改名 during shutdown"

        code = await asyncio.to_thread(first.process.wait, GRACE_PERIOD_S)
        stopped_in = time.monotonic() - signalled
        load.stop.set()
        await asyncio.gather(*workers)
        assert code in CLEAN_EXIT, first.tail()
        assert stopped_in < GRACE_PERIOD_S
        assert "Traceback" not in first.tail(), first.tail()

        # No answer was a 5xx; whatever was not answered was refused or dropped unhandled.
        assert set(load.statuses) == {201}, load.statuses
        assert set(load.not_handled) <= {error.__name__ for error in NOT_HANDLED}
        assert load.statuses[201] >= created_before_signal >= 40

        unsent_at_exit = await scalar_rows(
            database_url, "SELECT count(*) FROM outbox WHERE sent_at IS NULL"
        )
        # Restart: whatever the first process left unsent is relayed now.
        second = ServiceProcess(service_env, free_port(), tmp_path / "restarted.log")
        processes.append(second)
        await second.wait_ready()

        async def outbox_empty() -> bool:
            rows = await scalar_rows(
                database_url, "SELECT count(*) FROM outbox WHERE sent_at IS NULL"
            )
            return rows[0][0] == 0

        await eventually(outbox_empty, 30, "the outbox relayed after the restart")
        second.process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(second.process.wait, GRACE_PERIOD_S) in CLEAN_EXIT

    stored = {
        str(row[0])
        for row in await scalar_rows(
            database_url, "SELECT id FROM communities WHERE tenant_id = :t", t=tenant
        )
    }
    events = await events_on_topic(dev_broker.bootstrap_servers, tenant)
    created_events = [cid for kind, cid in events if kind.endswith("community.created.v1")]
    updated_events = [cid for kind, cid in events if kind.endswith("community.updated.v1")]
    assert load.created | {target} <= stored  # every 201 is stored
    assert sorted(created_events) == sorted(stored)  # every stored one published, once
    assert updated_events == [target]  # the request finished during shutdown, published
    print(
        f"\n{len(stored)} communities, {dict(load.statuses)} answers, "
        f"{dict(load.not_handled)} not handled, stopped in {stopped_in:.2f}s, "
        f"{unsent_at_exit[0][0]} unsent at exit"
    )


async def _true(value: bool) -> bool:
    return value
