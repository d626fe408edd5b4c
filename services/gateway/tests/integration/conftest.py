"""A migrated gateway on each database, called over ASGI; its outbox as the mailer sees it.

``gateway`` runs without a broker (events stay in the outbox); ``mailing_gateway`` runs
against the dev broker, so its mailer consumes ``gateway.notifications`` and writes every
mail into ``Gateway.mail_dir``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from gateway.app import create_app
from gateway.settings import Settings
from servicekit.db import create_engine
from servicekit.devbroker import DevBroker, free_port
from servicekit.migrations import upgrade
from servicekit.service_cli import alembic_ini
from servicekit.tables import outbox

PLATFORM_KEY = "platform-key-for-tests"


@dataclass
class Gateway:
    app: FastAPI
    client: httpx.AsyncClient
    database_url: str
    mail_dir: Path | None = None

    def platform(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {PLATFORM_KEY}"}

    async def events(self, event_type: str) -> list[dict[str, Any]]:
        """Data of the outbox events of a type, oldest first (what the mailer receives)."""
        engine = create_engine(self.database_url)
        try:
            async with engine.connect() as connection:
                rows = (await connection.execute(select(outbox).order_by(outbox.c.id))).all()
        finally:
            await engine.dispose()
        found = []
        for row in rows:
            headers = dict(row.headers)
            if headers.get("ce_type") == event_type:
                found.append({"_headers": headers, "_topic": row.topic, **json.loads(row.payload)})
        return found

    async def new_tenant(self, slug: str, owner: str = "owner@example.com") -> dict[str, Any]:
        answer = await self.client.post(
            "/v1/platform/tenants",
            json={"slug": slug, "name": slug.title(), "owner_email": owner, "owner_name": "Owner"},
            headers=self.platform(),
        )
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    async def activate(self, email: str, password: str = "correct horse battery") -> None:
        invites = [
            e
            for e in await self.events("quanzi.gateway.operator.invited.v1")
            if e["email"] == email
        ]
        answer = await self.client.post(
            "/v1/auth/invitations/accept",
            json={"token": invites[-1]["invitation_token"], "password": password},
        )
        assert answer.status_code == 204, answer.text

    async def login(
        self, tenant: str, email: str, password: str = "correct horse battery"
    ) -> dict[str, Any]:
        answer = await self.client.post(
            "/v1/auth/login", json={"tenant": tenant, "email": email, "password": password}
        )
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    async def owner_token(self, slug: str) -> tuple[dict[str, Any], str]:
        created = await self.new_tenant(slug, owner=f"owner@{slug}.example")
        await self.activate(f"owner@{slug}.example")
        tokens = await self.login(slug, f"owner@{slug}.example")
        return created, tokens["access_token"]

    async def operator_token(self, slug: str, owner: str, email: str, roles: list[str]) -> str:
        invited = await self.client.post(
            "/v1/operators",
            json={"email": email, "display_name": "Op", "roles": roles},
            headers=bearer(owner),
        )
        assert invited.status_code == 201, invited.text
        await self.activate(email)
        return str((await self.login(slug, email))["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@asynccontextmanager
async def running_gateway(
    database_url: str, tmp_path: Path, **settings: Any
) -> AsyncIterator[Gateway]:
    await asyncio.to_thread(upgrade, alembic_ini("gateway"), database_url)
    defaults: dict[str, Any] = {
        "kafka_bootstrap_servers": f"127.0.0.1:{free_port()}",  # no broker: the outbox keeps events
        "mail_dir": str(tmp_path / "mail"),
    }
    app = create_app(
        Settings(
            database_url=database_url,
            signing_key_file=str(tmp_path / "signing.pem"),
            platform_admin_key=PLATFORM_KEY,
            upstreams={"rewards": "http://127.0.0.1:9"},
            routes={"/v1/rewards": "rewards"},
            **{**defaults, **settings},
        )
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield Gateway(app, client, database_url, Path(app.state.settings.mail_dir))


@pytest.fixture
async def gateway(database_url: str, tmp_path: Path) -> AsyncIterator[Gateway]:
    async with running_gateway(database_url, tmp_path) as running:
        yield running


@pytest.fixture
async def mailing_gateway(
    database_url: str, tmp_path: Path, dev_broker: DevBroker
) -> AsyncIterator[Gateway]:
    """Relay and mailer running on the dev broker; mail lands in ``mail_dir``."""
    async with running_gateway(
        database_url, tmp_path, kafka_bootstrap_servers=dev_broker.bootstrap_servers
    ) as running:
        yield running
