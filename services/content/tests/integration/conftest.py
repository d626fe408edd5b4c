"""A migrated content database on each backend; onboarding's and rewards' events applied
directly, the way the consumer runner applies them; the API over ASGI."""

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

from content import app as content_app
from content.settings import Settings
from servicekit.consumer import apply_run
from servicekit.db import transaction
from servicekit.devbroker import DevBroker, free_port
from servicekit.events import Event
from servicekit.migrations import upgrade
from servicekit.service_cli import alembic_ini
from servicekit.testing import TokenMint, contracts, outbox_events, publish_checked, until
from servicekit.timers import TimerRunner
from servicekit.types import utcnow

TENANT = "t-acme"
OTHER = "t-other"
PREFIX = "quanzi.onboarding.membership."


def membership_event(
    kind: str,
    member_id: str,
    community_id: str = "c-1",
    *,
    at: datetime | None = None,
    tenant_id: str = TENANT,
    membership_id: str | None = None,
    **data: Any,
) -> Event:
    """An onboarding membership event as its contract shapes it (the fields content reads,
    plus the rest of the example's required ones)."""
    at = at or utcnow()
    stamp = {
        "activated": "activated_at",
        "renewed": "renewed_at",
        "tier_changed": "changed_at",
        "left": "left_at",
        "removed": "removed_at",
        "refunded": "refunded_at",
        "expired": "expired_at",
        "muted": "muted_at",
        "unmuted": "unmuted_at",
        "banned": "banned_at",
        "reinstated": "reinstated_at",
    }[kind]
    defaults: dict[str, Any] = {
        "activated": {
            "tier": "core",
            "group_id": "g-core",
            "refund_window_ends_at": None,
            "source": {"kind": "open"},
        },
        "muted": {"cause": "sanction", "muted_until": None, "rules_muted": False},
        "unmuted": {"status": "active", "cause": "mute_ended"},
        "banned": {"sanction_id": "s-1", "tenant_wide": False, "reason": "spam"},
        "removed": {"sanction_id": "s-1", "reason": "spam"},
        "expired": {"tier": "core"},
        "reinstated": {
            "status": "active",
            "from_status": "banned",
            "group_id": "g-core",
            "sanction_id": "s-1",
            "cause": "overturned",
        },
    }.get(kind, {})
    return Event(
        type=f"{PREFIX}{kind}.v1",
        source="/onboarding",
        tenant_id=tenant_id,
        topic="onboarding.memberships",
        key=member_id,
        time=at,
        data={
            "tenant_id": tenant_id,
            "membership_id": membership_id or f"ms-{member_id}-{community_id}",
            "member_id": member_id,
            "community_id": community_id,
            **defaults,
            stamp: at.isoformat(),
            **data,
        },
    )


def level_event(member_id: str, level: int, at: datetime | None = None) -> Event:
    at = at or utcnow()
    return Event(
        type="quanzi.rewards.level.changed.v1",
        source="/rewards",
        tenant_id=TENANT,
        topic="rewards.points",
        key=member_id,
        data={
            "tenant_id": TENANT,
            "member_id": member_id,
            "previous_level": max(1, level - 1),
            "level": level,
            "name": f"Lv{level}",
            "direction": "up",
            "lifetime": level * 10,
            "changed_at": at.isoformat(),
        },
    )


def group_event(group_id: str, kind: str, community_id: str = "c-1") -> Event:
    return Event(
        type="quanzi.onboarding.group.created.v1",
        source="/onboarding",
        tenant_id=TENANT,
        topic="onboarding.communities",
        key=community_id,
        data={
            "tenant_id": TENANT,
            "community_id": community_id,
            "group_id": group_id,
            "name": group_id,
            "kind": kind,
            "capacity": 500,
            "routing_code_id": None,
            "min_tier": None,
            "min_level": None,
            "city": None,
            "tags": [],
            "created_at": utcnow().isoformat(),
        },
    )


def role_event(
    kind: str, grant_id: str, member_id: str, role: str, community_id: str = "c-1"
) -> Event:
    """onboarding's role.granted / role.revoked."""
    at = utcnow().isoformat()
    extra: dict[str, Any] = (
        {"granted_by": "op-1", "granted_at": at}
        if kind == "granted"
        else {"revoked_by": "op-1", "seat_lost": False, "revoked_at": at}
    )
    return Event(
        type=f"quanzi.onboarding.role.{kind}.v1",
        source="/onboarding",
        tenant_id=TENANT,
        topic="onboarding.memberships",
        key=member_id,
        data={
            "tenant_id": TENANT,
            "grant_id": grant_id,
            "community_id": community_id,
            "member_id": member_id,
            "role": role,
            "group_id": None,
            "title": None,
            **extra,
        },
    )


def community_event(
    community_id: str, tenant_id: str = TENANT, timezone: str | None = None
) -> Event:
    zone = {"timezone": timezone} if timezone else {}
    return Event(
        type="quanzi.onboarding.community.created.v1",
        source="/onboarding",
        tenant_id=tenant_id,
        topic="onboarding.communities",
        key=community_id,
        data={
            "tenant_id": tenant_id,
            "community_id": community_id,
            "slug": community_id,
            "name": f"社群 {community_id}",
            "visibility": "public",
            "join_policy": "open",
            "created_at": utcnow().isoformat(),
            **zone,
        },
    )


def zone_event(community_id: str, timezone: str, at: datetime) -> Event:
    """onboarding's community.updated with a new time zone."""
    return Event(
        type="quanzi.onboarding.community.updated.v1",
        source="/onboarding",
        tenant_id=TENANT,
        topic="onboarding.communities",
        key=community_id,
        time=at,
        data={
            "tenant_id": TENANT,
            "community_id": community_id,
            "changes": ["timezone"],
            "timezone": timezone,
            "updated_at": at.isoformat(),
        },
    )


@dataclass
class Api:
    app: FastAPI
    client: httpx.AsyncClient
    mint: TokenMint
    # Event builders, reachable from tests (conftest modules are not importable there).
    membership = staticmethod(membership_event)
    level = staticmethod(level_event)
    group = staticmethod(group_event)
    community = staticmethod(community_event)
    zone = staticmethod(zone_event)
    role = staticmethod(role_event)

    async def fire_timers(self, at: datetime) -> int:
        """The service's timers due at ``at``, as its TimerRunner fires them (a test clock)."""
        runner = TimerRunner(self.app.state.sessions, content_app.TIMERS)
        return await runner.fire_due(now=at)

    async def publish(self, *events: Event) -> None:
        await publish(self, *events)

    async def until(self, condition: Any, what: str) -> Any:
        return await until(condition, what)

    def member(self, member_id: str, tenant_id: str = TENANT) -> dict[str, str]:
        token = self.mint.mint(tenant_id=tenant_id, subject=member_id, typ="member")
        return {"Authorization": f"Bearer {token}"}

    def operator(self, *roles: str, tenant_id: str = TENANT) -> dict[str, str]:
        token = self.mint.mint(
            tenant_id=tenant_id, subject="op-1", roles=list(roles or ["content_officer"])
        )
        return {"Authorization": f"Bearer {token}"}

    async def deliver(self, *events: Event) -> None:
        """Each event in its own transaction, through the consumer's handler table."""
        handlers = content_app.AUDIENCE.handlers
        for event in events:
            contracts().validate(event)  # what we feed in is what onboarding may send
            async with transaction(self.app.state.sessions) as session:
                await apply_run(handlers[event.type], session, [event])

    async def deliver_batch(self, *events: Event) -> None:
        """All in one transaction, as the consumer applies a poll: consecutive events of
        one type in one call of a batched handler."""
        handlers = content_app.AUDIENCE.handlers
        async with transaction(self.app.state.sessions) as session:
            for _, run in groupby(events, key=lambda event: event.type):
                batch = list(run)
                await apply_run(handlers[batch[0].type], session, batch)

    async def seat(self, member_id: str, community_id: str = "c-1", **data: Any) -> None:
        await self.deliver(membership_event("activated", member_id, community_id, **data))

    async def published(self, event_type: str | None = None) -> list[Event]:
        return await outbox_events(self.app.state.runtime.engine, event_type)

    async def post(self, headers: dict[str, str], **body: Any) -> httpx.Response:
        body.setdefault("kind", "text")
        body.setdefault("body", "早安，今天也要打卡")
        body.setdefault("audience", {"community_ids": ["c-1"]})
        return await self.client.post("/v1/content/posts", json=body, headers=headers)


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


@pytest.fixture
async def api(database_url: str, token_mint: TokenMint) -> AsyncIterator[Api]:
    await asyncio.to_thread(upgrade, alembic_ini("content"), database_url)
    settings = Settings(
        database_url=database_url,
        kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",  # no broker: the outbox keeps events
        jwks_json=json.dumps(token_mint.jwks()),
        timers_enabled=False,
        consumers_enabled=False,
    )
    app = content_app.create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://content") as client:
            api = Api(app, client, token_mint)
            # The tenant's communities, as onboarding announced them.
            await api.deliver(*(community_event(c) for c in ("c-1", "c-2", "c-3")))
            yield api


@pytest.fixture
async def live_api(
    database_url: str, token_mint: TokenMint, dev_broker: DevBroker
) -> AsyncIterator[Api]:
    """The service as it runs: its audience consumer and its relay on the dev broker."""
    await asyncio.to_thread(upgrade, alembic_ini("content"), database_url)
    settings = Settings(
        database_url=database_url,
        kafka_bootstrap_servers=dev_broker.bootstrap_servers,
        jwks_json=json.dumps(token_mint.jwks()),
        timers_enabled=False,
    )
    app = content_app.create_app(settings)
    async with app.router.lifespan_context(app):
        await asyncio.wait_for(app.state.runtime.kafka_ready.wait(), 60)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://content") as client:
            yield Api(app, client, token_mint)


async def publish(api: Api, *events: Event) -> None:
    """Onto the broker, as onboarding's and rewards' relays publish them."""
    await publish_checked(api.app.state.runtime.producer, *events)
