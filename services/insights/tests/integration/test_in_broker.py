"""Insights fed by the real dev broker: every service's events through the consumers
(inbox, batches), a duplicate publish counted once; then a replay of every topic from
offset 0 into a fresh insights database gives identical figures."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from insights import app as insights_app
from insights.settings import Settings
from servicekit.devbroker import DevBroker
from servicekit.migrations import upgrade
from servicekit.service_cli import alembic_ini
from servicekit.testing import TokenMint, fresh_database

from .conftest import Api, community
from .test_in_figures import days_of, expected, journey

pytestmark = pytest.mark.broker

FIRST, LAST = date(2026, 11, 30), date(2026, 12, 20)


def retenant(events: list, tenant_id: str) -> list:  # type: ignore[type-arg]
    """The same journey under a tenant of this test's own (the broker is shared)."""
    from dataclasses import replace

    return [
        replace(e, tenant_id=tenant_id, data={**e.data, "tenant_id": tenant_id}) for e in events
    ]


async def series(client: httpx.AsyncClient, headers: dict[str, str]) -> Any:
    answer = await client.get(
        "/v1/insights/series",
        params={"community_id": "c-1", "from": FIRST.isoformat(), "to": LAST.isoformat()},
        headers=headers,
    )
    # 404 until the community reached the projection
    return answer.json() if answer.status_code == 200 else None


async def test_events_from_the_broker_and_a_replay_into_a_fresh_database(
    live_api: Api, backend: str, tmp_path: Path, dev_broker: DevBroker, token_mint: TokenMint
) -> None:
    api = live_api
    tenant_id = f"t-{uuid.uuid4().hex[:8]}"
    events = retenant([community("c-1"), *journey()], tenant_id)
    await api.publish(*events, *events[:5])  # a duplicate publish of the first five
    headers = api.operator(tenant_id=tenant_id)

    async def applied() -> Any:
        found = await series(api.client, headers)
        complete = found and days_of(found) == expected(events, FIRST, LAST, "Asia/Shanghai")
        return found if complete else None

    figures = await api.until(applied, "the journey reached insights")
    assert sum(d["joined"] for d in figures["days"]) == 6

    # A fresh database and new consumer groups: every topic read again from offset 0.
    async with fresh_database(backend, tmp_path / "replay") as url:
        await asyncio.to_thread(upgrade, alembic_ini("insights"), url)
        settings = Settings(
            service_name=f"insights-replay-{uuid.uuid4().hex[:6]}",
            database_url=url,
            kafka_bootstrap_servers=dev_broker.bootstrap_servers,
            jwks_json=json.dumps(token_mint.jwks()),
            timers_enabled=False,
        )
        app = insights_app.create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://i") as client:

                async def replayed() -> bool:
                    return bool(await series(client, headers) == figures)

                await api.until(replayed, "the replay rebuilt the same figures")
