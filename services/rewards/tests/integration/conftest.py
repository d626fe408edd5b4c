"""A migrated rewards database on each backend; events and timers applied directly,
the way the consumer and timer runners apply them; the API over ASGI."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from rewards import app as rewards_app
from rewards.orm import entries, lots, wallets
from rewards.settings import Settings
from servicekit.consumer import apply_run
from servicekit.db import create_engine, session_factory, transaction
from servicekit.devbroker import free_port
from servicekit.events import Event
from servicekit.migrations import upgrade
from servicekit.service_cli import alembic_ini
from servicekit.testing import TokenMint, outbox_events
from servicekit.timers import TimerRunner
from servicekit.types import utcnow

TENANT = "t-acme"
ACTIVATED = "quanzi.onboarding.membership.activated.v1"
REFUNDED = "quanzi.onboarding.membership.refunded.v1"


def activated(
    membership_id: str,
    member_id: str,
    *,
    inviter_id: str | None = None,
    at: datetime | None = None,
    window_days: int | None = 3,
    tenant_id: str = TENANT,
    community_id: str = "c-1",
) -> Event:
    at = at or utcnow()
    window = (at + timedelta(days=window_days)).isoformat() if window_days is not None else None
    return Event(
        type=ACTIVATED,
        source="/onboarding",
        tenant_id=tenant_id,
        topic="onboarding.memberships",
        key=member_id,
        time=at,
        data={
            "tenant_id": tenant_id,
            "membership_id": membership_id,
            "member_id": member_id,
            "community_id": community_id,
            "tier": "core",
            "activated_at": at.isoformat(),
            "refund_window_ends_at": window,
            "source": {"kind": "invite" if inviter_id else "open", "inviter_id": inviter_id},
        },
    )


def refunded(membership_id: str, member_id: str, tenant_id: str = TENANT) -> Event:
    return Event(
        type=REFUNDED,
        source="/onboarding",
        tenant_id=tenant_id,
        topic="onboarding.memberships",
        key=member_id,
        data={
            "tenant_id": tenant_id,
            "membership_id": membership_id,
            "member_id": member_id,
            "community_id": "c-1",
            "refunded_at": utcnow().isoformat(),
        },
    )


def tenant_zone(
    zone: str, tenant_id: str = TENANT, *, at: datetime | None = None, created: bool = True
) -> Event:
    """The gateway announcing a tenant's time zone: at its creation or a change."""
    data: dict[str, Any] = {"tenant_id": tenant_id, "name": "Acme", "plan": "standard"}
    if created:
        what, data = "created", {**data, "slug": "acme", "timezone": zone}
    else:
        what = "updated"
        data = {**data, "changes": ["timezone"], "timezone": zone, "updated_at": _iso(at)}
    return Event(
        type=f"quanzi.gateway.tenant.{what}.v1",
        source="/gateway",
        tenant_id=tenant_id,
        topic="gateway.tenants",
        key=tenant_id,
        time=at or utcnow(),
        data=data,
    )


def community_zone(
    community_id: str,
    zone: str,
    tenant_id: str = TENANT,
    *,
    at: datetime | None = None,
    created: bool = True,
) -> Event:
    """Onboarding announcing a community's time zone: at its creation or a change."""
    data: dict[str, Any] = {
        "tenant_id": tenant_id,
        "community_id": community_id,
        "slug": community_id,
        "name": community_id,
        "visibility": "public",
        "timezone": zone,
    }
    if created:
        what, data = "created", {**data, "join_policy": "open", "created_at": _iso(at)}
    else:
        what = "updated"
        data = {**data, "changes": ["timezone"], "updated_at": _iso(at)}
    return Event(
        type=f"quanzi.onboarding.community.{what}.v1",
        source="/onboarding",
        tenant_id=tenant_id,
        topic="onboarding.communities",
        key=community_id,
        time=at or utcnow(),
        data=data,
    )


def _iso(at: datetime | None) -> str:
    return (at or utcnow()).isoformat()


HANDLERS = {
    **rewards_app.MEMBERSHIPS.handlers,
    **rewards_app.ACTIVITIES.handlers,
    **rewards_app.CONTENT.handlers,
    **rewards_app.ZONES.handlers,
}


async def _handle(session: AsyncSession, run: list[Event]) -> None:
    await apply_run(HANDLERS[run[0].type], session, run)


@dataclass
class Ledger:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    # Event builders, reachable from tests (conftest modules are not importable there).
    activated = staticmethod(activated)
    refunded = staticmethod(refunded)
    tenant_zone = staticmethod(tenant_zone)
    community_zone = staticmethod(community_zone)

    async def deliver(self, *events: Event) -> None:
        """Each event in its own transaction, as the consumer's one-by-one path does."""
        for event in events:
            async with transaction(self.sessions) as session:
                await _handle(session, [event])

    async def deliver_batch(self, *events: Event) -> None:
        """All in one transaction, as the consumer applies a poll: consecutive events of
        one type in one call of a batched handler."""
        async with transaction(self.sessions) as session:
            for _, run in groupby(events, key=lambda event: event.type):
                await _handle(session, list(run))

    async def fire_timers(self, at: datetime) -> int:
        return await TimerRunner(self.sessions, rewards_app.TIMERS).fire_due(now=at)

    async def balances(self, member_id: str, tenant_id: str = TENANT) -> dict[str, int] | None:
        async with self.engine.connect() as connection:
            row = (
                (
                    await connection.execute(
                        select(wallets).where(
                            wallets.c.tenant_id == tenant_id, wallets.c.member_id == member_id
                        )
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            return None
        return {k: row[k] for k in ("available", "pending", "lifetime", "debt", "level")}

    async def all_balances(self, tenant_id: str = TENANT) -> dict[str, dict[str, int]]:
        async with self.engine.connect() as connection:
            query = select(wallets).where(wallets.c.tenant_id == tenant_id)
            rows = (await connection.execute(query)).mappings().all()
        names = ("available", "pending", "lifetime", "debt", "level")
        return {row["member_id"]: {k: row[k] for k in names} for row in rows}

    async def check_invariants(self) -> None:
        """Every wallet equals the sum of its entries and of its open lots."""
        async with self.engine.connect() as connection:
            all_wallets = (await connection.execute(select(wallets))).mappings().all()
            all_entries = (await connection.execute(select(entries))).mappings().all()
            all_lots = (await connection.execute(select(lots))).mappings().all()
        for wallet in all_wallets:
            mine = [e for e in all_entries if e["wallet_id"] == wallet["id"]]
            for name in ("available", "pending", "lifetime", "debt"):
                assert wallet[name] == sum(e[f"{name}_delta"] for e in mine), (wallet, name)
            for state in ("available", "pending"):
                held = sum(
                    lot["remaining"]
                    for lot in all_lots
                    if lot["wallet_id"] == wallet["id"] and lot["state"] == state
                )
                assert wallet[state] == held, (wallet, state)

    async def published(self, event_type: str | None = None) -> list[Event]:
        return await outbox_events(self.engine, event_type)


@pytest.fixture
async def ledger(database_url: str) -> AsyncIterator[Ledger]:
    await asyncio.to_thread(upgrade, alembic_ini("rewards"), database_url)
    engine = create_engine(database_url)
    try:
        yield Ledger(engine, session_factory(engine))
    finally:
        await engine.dispose()


@dataclass
class Api:
    app: FastAPI
    client: httpx.AsyncClient
    mint: TokenMint

    def member(self, member_id: str, tenant_id: str = TENANT) -> dict[str, str]:
        token = self.mint.mint(tenant_id=tenant_id, subject=member_id, typ="member")
        return {"Authorization": f"Bearer {token}"}

    def operator(self, *roles: str, tenant_id: str = TENANT, **extra: str) -> dict[str, str]:
        token = self.mint.mint(tenant_id=tenant_id, subject="op-1", roles=list(roles))
        return {"Authorization": f"Bearer {token}", **extra}


@pytest.fixture
async def api(ledger: Ledger, database_url: str, token_mint: TokenMint) -> AsyncIterator[Api]:
    settings = Settings(
        database_url=database_url,
        kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",  # no broker: the outbox keeps events
        jwks_json=json.dumps(token_mint.jwks()),
        timers_enabled=False,  # tests fire timers themselves, at chosen times
    )
    app = rewards_app.create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://rewards") as client:
            yield Api(app, client, token_mint)


def body(answer: httpx.Response) -> Any:
    return answer.json()
