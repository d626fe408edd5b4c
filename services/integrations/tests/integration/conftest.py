"""A migrated integrations database on each backend; platform events applied through the
consumers' handler tables; the API over ASGI with a test clock; the timers fired by the
test at the instants it chooses; a real HTTP receiver in a thread."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import groupby
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from integrations import app as integrations_app
from integrations.settings import Settings
from integrations.webhooks import delivery
from servicekit.consumer import Batched
from servicekit.db import transaction
from servicekit.devbroker import free_port
from servicekit.events import Event
from servicekit.migrations import upgrade
from servicekit.service_cli import alembic_ini
from servicekit.testing import TokenMint, contracts, outbox_events
from servicekit.timers import TimerRunner
from servicekit.types import utcnow

TENANT = "t-acme"
OTHER = "t-other"
WH = "/v1/integrations/webhooks"


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay_s: float = 0.0


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)  # when it arrived (pacing tests)

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """A real HTTP server: records every POST and answers from a script (then ``default``)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.script: list[Reply] = []
        self.default = Reply()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.received.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    reply = receiver.script.pop(0) if receiver.script else receiver.default
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> Receiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def platform_event(
    kind: str,
    member_id: str | None = "m-1",
    *,
    tenant_id: str = TENANT,
    **data: Any,
) -> Event:
    """An event of the platform as its contract shapes it (a few types are enough here)."""
    if kind == "membership.activated":
        type_, topic = "quanzi.onboarding.membership.activated.v1", "onboarding.memberships"
        payload = {
            "membership_id": f"ms-{member_id}",
            "member_id": member_id,
            "community_id": "c-1",
            "tier": "core",
            "group_id": "g-1",
            "source": {"kind": "open"},
            "activated_at": "2026-12-01T08:00:00+00:00",
        }
    elif kind == "points.credited":
        type_, topic = "quanzi.rewards.points.credited.v1", "rewards.points"
        payload = {**contracts().examples[type_][0], "member_id": member_id}
    else:
        raise ValueError(kind)
    return Event(
        type=type_,
        source="/test",
        tenant_id=tenant_id,
        topic=topic,
        key=member_id,
        data={**payload, **data, "tenant_id": tenant_id},
    )


@dataclass
class Api:
    app: FastAPI
    client: httpx.AsyncClient
    mint: TokenMint
    now: list[datetime]

    @property
    def settings(self) -> Settings:
        return self.app.state.settings  # type: ignore[no-any-return]

    def at(self, when: datetime) -> None:
        self.now[0] = when

    def later(self, delta: timedelta) -> datetime:
        self.now[0] += delta
        return self.now[0]

    def owner(self, tenant_id: str = TENANT, *roles: str) -> dict[str, str]:
        token = self.mint.mint(tenant_id=tenant_id, subject="op-1", roles=list(roles or ["owner"]))
        return {"Authorization": f"Bearer {token}"}

    def member(self, member_id: str = "m-1", tenant_id: str = TENANT) -> dict[str, str]:
        token = self.mint.mint(tenant_id=tenant_id, subject=member_id, typ="member")
        return {"Authorization": f"Bearer {token}"}

    async def endpoint(self, url: str, tenant_id: str = TENANT, **body: Any) -> dict[str, Any]:
        body.setdefault("event_types", ["membership.*", "points.*"])
        answer = await self.client.post(
            f"{WH}/endpoints", json={"url": url, **body}, headers=self.owner(tenant_id)
        )
        assert answer.status_code == 201, answer.text
        return answer.json()  # type: ignore[no-any-return]

    async def consume(self, *events: Event, wait: bool = True) -> None:
        """All in one transaction per consumer group, as the runner applies a poll; then
        (``wait``) until the first attempts it started are answered and recorded."""
        for spec in integrations_app.consumers(self.settings):
            async with transaction(self.app.state.sessions) as session:
                for _, run in groupby(events, key=lambda event: event.type):
                    batch = list(run)
                    for event in batch:
                        contracts().validate(event)
                    handler = spec.handlers.get(batch[0].type)
                    if handler is None:  # a type this group does not read (gateway's)
                        continue
                    assert isinstance(handler, Batched)
                    await handler.handle(session, batch)
        if wait:
            await self.app.state.dispatcher.idle()

    async def tick(self, when: datetime | None = None, *, exports: bool = False) -> int:
        """Fire the timers due at the test clock's instant, then wait for every request they
        started to be answered and recorded. The export's timers only when asked: webhook
        tests count what fires, and a night may pass in them."""
        if when is not None:
            self.at(when)
        handlers = integrations_app.TIMERS if exports else delivery.TIMERS
        runner = TimerRunner(self.app.state.sessions, handlers)
        fired = await runner.fire_due(self.now[0])
        await self.app.state.dispatcher.idle()
        return fired

    async def deliveries(self, endpoint_id: str, tenant_id: str = TENANT) -> list[dict[str, Any]]:
        answer = await self.client.get(
            f"{WH}/endpoints/{endpoint_id}/deliveries?limit=200", headers=self.owner(tenant_id)
        )
        assert answer.status_code == 200, answer.text
        return list(reversed(answer.json()["items"]))  # oldest first

    async def detail(self, endpoint_id: str, delivery_id: int) -> dict[str, Any]:
        answer = await self.client.get(
            f"{WH}/endpoints/{endpoint_id}/deliveries/{delivery_id}", headers=self.owner()
        )
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]

    async def published(self, event_type: str | None = None) -> list[Event]:
        return await outbox_events(self.app.state.runtime.engine, event_type)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver().start()
    yield running
    running.stop()


@pytest.fixture
async def api(database_url: str, token_mint: TokenMint) -> AsyncIterator[Api]:
    await asyncio.to_thread(upgrade, alembic_ini("integrations"), database_url)
    settings = Settings(
        database_url=database_url,
        kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",  # no broker: the outbox keeps events
        jwks_json=json.dumps(token_mint.jwks()),
        timers_enabled=False,
        consumers_enabled=False,
        webhooks_allow_private=True,  # the receiver runs on loopback
        webhooks_allow_http=True,
        webhooks_timeout_s=5.0,
    )
    app = integrations_app.create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            now = [utcnow().replace(microsecond=0)]
            app.state.clock = lambda: now[0]
            yield Api(app, client, token_mint, now)


def new_id() -> str:
    return uuid.uuid4().hex[:8]
