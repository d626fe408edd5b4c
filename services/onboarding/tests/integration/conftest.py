"""A migrated onboarding service on each database, called over ASGI with minted tokens."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from onboarding.app import create_app
from onboarding.settings import Settings
from servicekit.contracts import Registry
from servicekit.db import create_engine, session_factory
from servicekit.devbroker import free_port
from servicekit.events import Event
from servicekit.migrations import upgrade
from servicekit.service_cli import alembic_ini
from servicekit.tables import outbox
from servicekit.testing import TokenMint

REGISTRY = Registry.load()


@dataclass
class Onboarding:
    app: FastAPI
    client: httpx.AsyncClient
    engine: AsyncEngine
    mint: TokenMint
    tenant: str = "tenant-a"
    _member_ids: list[str] = field(default_factory=list)

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return session_factory(self.engine)

    def operator(
        self, tenant: str | None = None, roles: tuple[str, ...] = ("owner",)
    ) -> dict[str, str]:
        token = self.mint.mint(tenant_id=tenant or self.tenant, subject="op-1", roles=list(roles))
        return bearer(token)

    def member(self, external_id: str, tenant: str | None = None) -> dict[str, str]:
        token = self.mint.mint(
            tenant_id=tenant or self.tenant, subject=external_id, roles=["member"], typ="member"
        )
        return bearer(token)

    def payments(self, tenant: str | None = None, scope: str = "payments:write") -> dict[str, str]:
        token = self.mint.mint(
            tenant_id=tenant or self.tenant, subject="apikey:k1", roles=["integration"], scope=scope
        )
        return bearer(token)

    async def community(self, **fields: Any) -> dict[str, Any]:
        body = {"slug": "reading-club", "name": "读书会", **fields}
        answer = await self.client.post(
            "/v1/onboarding/communities", json=body, headers=self.operator()
        )
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    async def groups(self, community_id: str) -> list[dict[str, Any]]:
        """The community's groups (one page, as an operator sees them)."""
        answer = await self.client.get(
            f"/v1/onboarding/communities/{community_id}/groups", headers=self.operator()
        )
        assert answer.status_code == 200, answer.text
        return list(answer.json()["items"])

    async def paid_community(self, **fields: Any) -> dict[str, Any]:
        terms = {
            "join_policy": "paid",
            "price_cents": 9900,
            "currency": "CNY",
            "term_kind": "rolling",
            "term_days": 365,
            "refund_window_hours": 72,
        }
        return await self.community(**{"slug": "paid-club", **terms, **fields})

    async def pay(
        self, community_id: str, member: str, reference: str, key: str | None = None, **extra: Any
    ) -> httpx.Response:
        body = {
            "reference": reference,
            "community_id": community_id,
            "member_id": member,
            "amount_cents": 9900,
            "currency": "CNY",
            **extra,
        }
        headers = {**self.payments(), **({"Idempotency-Key": key} if key else {})}
        return await self.client.post("/v1/onboarding/payments", json=body, headers=headers)

    async def events(self, event_type: str | None = None) -> list[Event]:
        """Outbox events (oldest first), each validated against the contracts registry."""
        async with self.engine.connect() as connection:
            rows = (await connection.execute(select(outbox).order_by(outbox.c.id))).all()
        found = []
        for row in rows:
            headers = dict(row.headers)
            event = Event(
                id=headers["ce_id"],
                type=headers["ce_type"],
                source=headers["ce_source"],
                tenant_id=headers["ce_tenantid"],
                topic=row.topic,
                data=json.loads(row.payload),
                key=row.key,
            )
            REGISTRY.validate(event)
            if event_type is None or event.type == event_type:
                found.append(event)
        return found


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


MONEY_PATHS = ("/v1/onboarding/payments", "/refund")
KEYLESS = "keyless"  # a request extension: send a money-like POST without a key


async def fresh_idempotency_key(request: httpx.Request) -> None:
    """The test client behaves as a well-written payment backend: every payment and refund
    carries a fresh Idempotency-Key unless the test sets one (to test replays) or asks for
    none (``extensions={KEYLESS: True}``, to test the 400)."""
    money = request.method == "POST" and request.url.path.endswith(MONEY_PATHS)
    if money and "idempotency-key" not in request.headers and not request.extensions.get(KEYLESS):
        request.headers["Idempotency-Key"] = uuid.uuid4().hex


@pytest.fixture
async def onboarding(database_url: str, token_mint: TokenMint) -> AsyncIterator[Onboarding]:
    await asyncio.to_thread(upgrade, alembic_ini("onboarding"), database_url)
    settings = Settings(
        database_url=database_url,
        kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",  # no broker: the outbox keeps events
        jwks_json=json.dumps(token_mint.jwks()),
        timers_enabled=False,  # tests fire timers themselves
        database_pool_size=15,
    )
    app = create_app(settings)
    engine = create_engine(database_url)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            hooks = {"request": [fresh_idempotency_key]}
            async with httpx.AsyncClient(
                transport=transport, base_url="http://svc", event_hooks=hooks
            ) as client:
                yield Onboarding(app, client, engine, token_mint)
    finally:
        await engine.dispose()
