"""A migrated activities database on each backend; onboarding's events applied directly,
the way the consumer runner applies them; the API over ASGI with a test clock."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import groupby
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from activities import app as activities_app
from activities.settings import Settings
from servicekit.consumer import apply_run
from servicekit.db import transaction
from servicekit.devbroker import DevBroker, free_port
from servicekit.events import Event
from servicekit.migrations import upgrade
from servicekit.service_cli import alembic_ini
from servicekit.testing import TokenMint, contracts, outbox_events, publish_checked, until

TENANT = "t-acme"
OTHER = "t-other"
AC = "/v1/activities"
# 08:00 on 1 Dec 2026 in Shanghai.
T0 = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)

STAMPS = {
    "activated": "activated_at",
    "renewed": "renewed_at",
    "group_changed": "changed_at",
    "left": "left_at",
    "removed": "removed_at",
    "expired": "expired_at",
    "banned": "banned_at",
    "reinstated": "reinstated_at",
}
DEFAULTS: dict[str, dict[str, Any]] = {
    "activated": {"tier": "core", "group_id": "g-1", "source": {"kind": "open"}},
    "group_changed": {"from_group_id": "g-1", "to_group_id": "g-2", "reason": "switched"},
    "removed": {"sanction_id": "s-1", "reason": "spam"},
    "banned": {"sanction_id": "s-1", "tenant_wide": False, "reason": "spam"},
    "expired": {"tier": "core"},
    "reinstated": {
        "status": "active",
        "from_status": "banned",
        "group_id": "g-1",
        "sanction_id": "s-1",
        "cause": "overturned",
    },
}


def membership_event(
    kind: str,
    member_id: str,
    community_id: str = "c-1",
    *,
    at: datetime = T0,
    tenant_id: str = TENANT,
    **data: Any,
) -> Event:
    """An onboarding membership event as its contract shapes it."""
    return Event(
        type=f"quanzi.onboarding.membership.{kind}.v1",
        source="/onboarding",
        tenant_id=tenant_id,
        topic="onboarding.memberships",
        key=member_id,
        time=at,
        data={
            "tenant_id": tenant_id,
            "membership_id": f"ms-{member_id}-{community_id}",
            "member_id": member_id,
            "community_id": community_id,
            **DEFAULTS.get(kind, {}),
            STAMPS[kind]: at.isoformat(),
            **data,
        },
    )


def community_event(
    community_id: str,
    timezone: str | None = "Asia/Shanghai",
    *,
    tenant_id: str = TENANT,
    updated_at: datetime | None = None,
) -> Event:
    """community.created, or community.updated when ``updated_at`` is given."""
    zone = {"timezone": timezone} if timezone else {}
    if updated_at is not None:
        kind = "updated"
        data: dict[str, Any] = {
            "changes": ["timezone"],
            "updated_at": updated_at.isoformat(),
            **zone,
        }
    else:
        kind = "created"
        data = {
            "slug": community_id,
            "name": f"社群 {community_id}",
            "visibility": "public",
            "join_policy": "open",
            "created_at": T0.isoformat(),
            **zone,
        }
    return Event(
        type=f"quanzi.onboarding.community.{kind}.v1",
        source="/onboarding",
        tenant_id=tenant_id,
        topic="onboarding.communities",
        key=community_id,
        data={"tenant_id": tenant_id, "community_id": community_id, **data},
    )


@dataclass
class Api:
    app: FastAPI
    client: httpx.AsyncClient
    mint: TokenMint
    now: list[datetime] = field(default_factory=lambda: [T0])
    membership = staticmethod(membership_event)
    community = staticmethod(community_event)

    def at(self, when: datetime) -> None:
        """Move the service's clock."""
        self.now[0] = when

    def member(self, member_id: str, tenant_id: str = TENANT) -> dict[str, str]:
        token = self.mint.mint(tenant_id=tenant_id, subject=member_id, typ="member")
        return {"Authorization": f"Bearer {token}"}

    def operator(self, *roles: str, tenant_id: str = TENANT) -> dict[str, str]:
        token = self.mint.mint(
            tenant_id=tenant_id, subject="op-1", roles=list(roles or ["activity_officer"])
        )
        return {"Authorization": f"Bearer {token}"}

    async def deliver(self, *events: Event) -> None:
        """Each event in its own transaction, through the consumer's handler table."""
        for event in events:
            await self.deliver_batch(event)

    async def deliver_batch(self, *events: Event) -> None:
        """All in one transaction, as the consumer applies a poll: consecutive events of
        one type in one call of a batched handler."""
        handlers = activities_app.MEMBERS.handlers
        async with transaction(self.app.state.sessions) as session:
            for _, run in groupby(events, key=lambda event: event.type):
                batch = list(run)
                for event in batch:
                    contracts().validate(event)  # what we feed in is what onboarding may send
                await apply_run(handlers[batch[0].type], session, batch)

    async def seat(self, member_id: str, community_id: str = "c-1", **data: Any) -> None:
        await self.deliver(membership_event("activated", member_id, community_id, **data))

    async def published(self, event_type: str | None = None) -> list[Event]:
        return await outbox_events(self.app.state.runtime.engine, event_type)

    async def publish(self, *events: Event) -> None:
        await publish_checked(self.app.state.runtime.producer, *events)

    async def until(self, condition: Any, what: str, timeout_s: float = 60.0) -> Any:
        return await until(condition, what, timeout_s)

    async def challenge(self, **body: Any) -> dict[str, Any]:
        body.setdefault("community_id", "c-1")
        body.setdefault("title", "21 天早起打卡")
        body.setdefault("start_date", "2026-12-01")
        body.setdefault("end_date", "2026-12-21")
        body.setdefault("required_days", 3)
        answer = await self.client.post(f"{AC}/challenges", json=body, headers=self.operator())
        assert answer.status_code == 201, answer.text
        return answer.json()  # type: ignore[no-any-return]

    async def check_in(self, challenge_id: str, member_id: str, **body: Any) -> httpx.Response:
        return await self.client.post(
            f"{AC}/challenges/{challenge_id}/checkins", json=body, headers=self.member(member_id)
        )

    async def make_up(self, challenge_id: str, member_id: str, day: str) -> httpx.Response:
        return await self.client.post(
            f"{AC}/challenges/{challenge_id}/makeups",
            json={"day": day},
            headers=self.member(member_id),
        )


@pytest.fixture
async def api(database_url: str, token_mint: TokenMint) -> AsyncIterator[Api]:
    await asyncio.to_thread(upgrade, alembic_ini("activities"), database_url)
    settings = Settings(
        database_url=database_url,
        kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",  # no broker: the outbox keeps events
        jwks_json=json.dumps(token_mint.jwks()),
        timers_enabled=False,
        consumers_enabled=False,
    )
    app = activities_app.create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://activities") as client:
            api = Api(app, client, token_mint)
            app.state.clock = lambda: api.now[0]
            await api.deliver(
                community_event("c-1"),
                community_event("c-2", "America/New_York"),
                community_event("c-x", tenant_id=OTHER),
            )
            yield api


@pytest.fixture
async def live_api(
    database_url: str, token_mint: TokenMint, dev_broker: DevBroker
) -> AsyncIterator[Api]:
    """The service as it runs: its membership consumer and its relay on the dev broker,
    on the wall clock."""
    await asyncio.to_thread(upgrade, alembic_ini("activities"), database_url)
    settings = Settings(
        database_url=database_url,
        kafka_bootstrap_servers=dev_broker.bootstrap_servers,
        jwks_json=json.dumps(token_mint.jwks()),
        timers_enabled=False,
    )
    app = activities_app.create_app(settings)
    async with app.router.lifespan_context(app):
        await asyncio.wait_for(app.state.runtime.kafka_ready.wait(), 60)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://activities") as client:
            yield Api(app, client, token_mint)
