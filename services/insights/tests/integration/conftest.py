"""A migrated insights database on each backend; every service's events shaped by their
contracts and applied the way the consumer runner applies them; the API over ASGI with a
test clock; the silence timers fired at a chosen instant."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import groupby
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from insights import app as insights_app
from insights.settings import Settings
from servicekit.consumer import Batched
from servicekit.db import transaction
from servicekit.devbroker import DevBroker, free_port
from servicekit.events import Event, new_event
from servicekit.migrations import upgrade
from servicekit.service_cli import alembic_ini
from servicekit.testing import TokenMint, contracts, outbox_events, publish_checked, until
from servicekit.timers import TimerRunner

TENANT = "t-acme"
OTHER = "t-other"
IN = "/v1/insights"
# 08:00 on 1 Dec 2026 in Shanghai.
T0 = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)

HANDLERS: dict[str, Any] = {
    kind: handler
    for spec in (insights_app.FACTS, insights_app.COMMUNITIES)
    for kind, handler in spec.handlers.items()
}


def _event(type_: str, topic: str, key: str, data: dict[str, Any], tenant_id: str) -> Event:
    return new_event(
        type=type_,
        source="/" + type_.split(".")[1],
        tenant_id=tenant_id,
        topic=topic,
        data={"tenant_id": tenant_id, **data},
        key=key,
    )


def community(
    community_id: str,
    timezone: str = "Asia/Shanghai",
    *,
    tenant_id: str = TENANT,
    updated_at: datetime | None = None,
) -> Event:
    if updated_at is not None:
        data: dict[str, Any] = {
            "community_id": community_id,
            "changes": ["timezone"],
            "slug": community_id,
            "name": f"社群 {community_id}",
            "visibility": "public",
            "timezone": timezone,
            "updated_at": updated_at.isoformat(),
        }
        kind = "updated"
    else:
        data = {
            "community_id": community_id,
            "slug": community_id,
            "name": f"社群 {community_id}",
            "visibility": "public",
            "join_policy": "paid",
            "timezone": timezone,
            "created_at": T0.isoformat(),
        }
        kind = "created"
    return _event(
        f"quanzi.onboarding.community.{kind}.v1",
        "onboarding.communities",
        community_id,
        data,
        tenant_id,
    )


def membership(
    kind: str,
    member_id: str,
    community_id: str = "c-1",
    *,
    at: datetime = T0,
    tenant_id: str = TENANT,
    **data: Any,
) -> Event:
    stamp = "activated_at" if kind == "activated" else f"{kind}_at"
    body = {
        "membership_id": f"ms-{member_id}-{community_id}",
        "member_id": member_id,
        "community_id": community_id,
        stamp: at.isoformat(),
    }
    if kind == "renewed":
        body |= {"payment_id": "p-2", "term_ends_at": (at + timedelta(days=365)).isoformat()}
    return _event(
        f"quanzi.onboarding.membership.{kind}.v1",
        "onboarding.memberships",
        member_id,
        {**body, **data},
        tenant_id,
    )


def joined(
    member_id: str,
    community_id: str = "c-1",
    *,
    at: datetime = T0,
    paid: bool = False,
    code: str | None = "POSTER-A",
    channel: str | None = "poster",
    upgrade: bool = False,
    tenant_id: str = TENANT,
) -> Event:
    """An activation: an arrival through a routing code (trial or paid), or a trial that
    paid (``upgrade``)."""
    source = {"kind": "routing_code" if code else "open", "code": code, "channel": channel}
    return membership(
        "activated",
        member_id,
        community_id,
        at=at,
        tenant_id=tenant_id,
        group_id="g-1",
        tier="core" if paid else "trial",
        term_ends_at=(at + timedelta(days=365 if paid else 7)).isoformat(),
        refund_window_ends_at=(at + timedelta(days=3)).isoformat() if paid else None,
        trial_ends_at=None if paid else (at + timedelta(days=7)).isoformat(),
        previous_tier="trial" if upgrade else None,
        source=source,
    )


def post(
    post_id: str,
    member_id: str,
    community_id: str = "c-1",
    *,
    at: datetime = T0,
    tenant_id: str = TENANT,
) -> Event:
    data = {
        "post_id": post_id,
        "author_id": member_id,
        "author_kind": "member",
        "community_ids": [community_id],
        "tenant_wide": False,
        "kind": "text",
        "pinned": False,
        "tags": [],
        "published_at": at.isoformat(),
    }
    return _event("quanzi.content.post.published.v1", "content.posts", member_id, data, tenant_id)


def checkin(
    checkin_id: str,
    member_id: str,
    community_id: str = "c-1",
    *,
    at: datetime = T0,
    tenant_id: str = TENANT,
) -> Event:
    data = {
        "checkin_id": checkin_id,
        "challenge_id": "ch-1",
        "community_id": community_id,
        "group_id": None,
        "member_id": member_id,
        "day": at.date().isoformat(),
        "make_up": False,
        "streak": 1,
        "total_days": 1,
        "checked_at": at.isoformat(),
    }
    return _event(
        "quanzi.activities.checkin.recorded.v1",
        "activities.campaigns",
        member_id,
        data,
        tenant_id,
    )


def credited(
    entry_key: str,
    member_id: str,
    points: int,
    community_id: str = "c-1",
    *,
    at: datetime = T0,
    tenant_id: str = TENANT,
) -> Event:
    kind = "credited" if points > 0 else "debited"
    data = {
        "member_id": member_id,
        "entry_key": entry_key,
        "kind": "earn" if points > 0 else "spend",
        "points": points,
        "available_delta": points,
        "pending_delta": 0,
        "lifetime_delta": max(points, 0),
        "debt_delta": 0,
        "community_id": community_id,
        "rule_id": None,
        "rule_version": None,
        "cause": None,
        "reason": None,
        "occurred_at": at.isoformat(),
        "balance": {"available": 10, "pending": 0, "lifetime": 10, "debt": 0, "level": 1},
    }
    return _event(f"quanzi.rewards.points.{kind}.v1", "rewards.points", member_id, data, tenant_id)


def role(
    grant_id: str,
    member_id: str,
    community_id: str,
    *,
    role_name: str = "admin",
    revoked: bool = False,
    at: datetime = T0,
    tenant_id: str = TENANT,
) -> Event:
    data: dict[str, Any] = {
        "grant_id": grant_id,
        "community_id": community_id,
        "member_id": member_id,
        "role": role_name,
        "group_id": None,
        "title": None,
    }
    if revoked:
        data |= {
            "revoked_by": "op-1",
            "reason": None,
            "seat_lost": False,
            "revoked_at": at.isoformat(),
        }
    else:
        data |= {"granted_by": "op-1", "reason": None, "granted_at": at.isoformat()}
    kind = "revoked" if revoked else "granted"
    return _event(
        f"quanzi.onboarding.role.{kind}.v1", "onboarding.memberships", member_id, data, tenant_id
    )


@dataclass
class Api:
    app: FastAPI
    client: httpx.AsyncClient
    mint: TokenMint
    now: list[datetime] = field(default_factory=lambda: [T0])

    def at(self, when: datetime) -> None:
        self.now[0] = when

    def member(self, member_id: str, tenant_id: str = TENANT) -> dict[str, str]:
        token = self.mint.mint(tenant_id=tenant_id, subject=member_id, typ="member")
        return {"Authorization": f"Bearer {token}"}

    def operator(self, *roles: str, tenant_id: str = TENANT) -> dict[str, str]:
        token = self.mint.mint(tenant_id=tenant_id, subject="op-1", roles=list(roles or ["owner"]))
        return {"Authorization": f"Bearer {token}"}

    async def get(self, path: str, headers: Any = None, **params: Any) -> Any:
        answer = await self.client.get(
            f"{IN}{path}", params=params, headers=headers or self.operator()
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    async def deliver(self, *events: Event) -> None:
        """Each event in its own transaction, through the consumers' handler table."""
        for event in events:
            await self.deliver_batch(event)

    async def deliver_batch(self, *events: Event) -> None:
        """All in one transaction, as the consumer applies a poll: consecutive events of
        one type in one call of a batched handler."""
        async with transaction(self.app.state.sessions) as session:
            for _, run in groupby(events, key=lambda event: event.type):
                batch = list(run)
                for event in batch:
                    contracts().validate(event)  # what we feed in is what producers may send
                handler = HANDLERS[batch[0].type]
                if isinstance(handler, Batched):
                    await handler.handle(session, batch)
                else:
                    for event in batch:
                        await handler(session, event)

    async def fire_timers(self, now: datetime) -> int:
        runner = TimerRunner(self.app.state.sessions, insights_app.TIMERS)
        fired = 0
        while (claimed := await runner.fire_due(now)) > 0:
            fired += claimed
        return fired

    async def published(self, event_type: str | None = None) -> list[Event]:
        return await outbox_events(self.app.state.runtime.engine, event_type)

    async def publish(self, *events: Event) -> None:
        await publish_checked(self.app.state.runtime.producer, *events)

    async def until(self, condition: Any, what: str, timeout_s: float = 60.0) -> Any:
        return await until(condition, what, timeout_s)


@pytest.fixture
async def api(database_url: str, token_mint: TokenMint) -> AsyncIterator[Api]:
    await asyncio.to_thread(upgrade, alembic_ini("insights"), database_url)
    settings = Settings(
        database_url=database_url,
        kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",  # no broker: the outbox keeps events
        jwks_json=json.dumps(token_mint.jwks()),
        timers_enabled=False,
        consumers_enabled=False,
    )
    app = insights_app.create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://insights") as client:
            api = Api(app, client, token_mint)
            app.state.clock = lambda: api.now[0]
            yield api


@pytest.fixture
async def live_api(
    database_url: str, token_mint: TokenMint, dev_broker: DevBroker
) -> AsyncIterator[Api]:
    """The service as it runs: its consumers and relay on the dev broker."""
    await asyncio.to_thread(upgrade, alembic_ini("insights"), database_url)
    settings = Settings(
        database_url=database_url,
        kafka_bootstrap_servers=dev_broker.bootstrap_servers,
        jwks_json=json.dumps(token_mint.jwks()),
        timers_enabled=False,
    )
    app = insights_app.create_app(settings)
    async with app.router.lifespan_context(app):
        await asyncio.wait_for(app.state.runtime.kafka_ready.wait(), 60)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://insights") as client:
            yield Api(app, client, token_mint)
