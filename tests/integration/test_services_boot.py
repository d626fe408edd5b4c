"""Every service: its migrations run on both databases, it boots against the real
broker, answers health, readiness and metrics, and trusts no unverified caller."""

from __future__ import annotations

import asyncio
import importlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import jwt
import pytest
from fastapi import FastAPI
from sqlalchemy import inspect

from servicekit.db import create_engine
from servicekit.devbroker import DevBroker
from servicekit.migrations import upgrade
from servicekit.testing import TokenMint

SERVICES = ("gateway", "onboarding", "content", "activities", "rewards", "insights", "integrations")
REPO = Path(__file__).resolve().parents[2]


async def table_names(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


@pytest.fixture(params=SERVICES)
def service(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def app(
    service: str, database_url: str, dev_broker: DevBroker, tmp_path: Path, token_mint: TokenMint
) -> AsyncIterator[FastAPI]:
    await asyncio.to_thread(upgrade, REPO / "services" / service / "alembic.ini", database_url)
    settings_module = importlib.import_module(f"{service}.settings")
    app_module = importlib.import_module(f"{service}.app")
    extra = {"signing_key_file": str(tmp_path / "key.pem")} if service == "gateway" else {}
    settings = settings_module.Settings(
        database_url=database_url,
        kafka_bootstrap_servers=dev_broker.bootstrap_servers,
        jwks_json=json.dumps(token_mint.jwks()),
        # A consumer stopped in the middle of joining its group waits for the join (aiokafka
        # lets the coordinator finish it); these tests check the service is up, not that.
        shutdown_runtime_timeout_s=1,
        **extra,
    )
    application: FastAPI = app_module.create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


async def test_migrations_create_the_kit_tables(service: str, database_url: str) -> None:
    await asyncio.to_thread(upgrade, REPO / "services" / service / "alembic.ini", database_url)
    assert {
        "outbox",
        "inbox",
        "timers",
        "idempotency_keys",
        "alembic_version",
    } <= await table_names(database_url)
    await asyncio.to_thread(upgrade, REPO / "services" / service / "alembic.ini", database_url)


async def test_service_is_alive_ready_and_measured(app: FastAPI, service: str) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        assert (await client.get("/healthz")).json() == {"status": "alive"}
        if service != "gateway":  # the gateway's readiness also asks its upstreams (e2e)
            ready = await _eventually_ready(client)
            assert ready["checks"] == {"database": "ok", "broker": "ok"}
        metrics = await client.get("/metrics")
        assert 'quanzi_http_requests_total{method="GET",route="/healthz"' in metrics.text


async def test_service_trusts_only_verified_tokens(
    app: FastAPI, service: str, token_mint: TokenMint
) -> None:
    mint = _gateway_mint(app) if service == "gateway" else token_mint
    path = f"/v1/{service}/whoami"
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        anonymous = await client.get(path, headers={"X-Tenant-Id": "t-a"})
        assert anonymous.status_code == 401
        assert anonymous.headers["content-type"] == "application/problem+json"
        good = mint.mint(tenant_id="t-a", subject="op-1", roles=["owner"])
        forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
        assert (
            await client.get(path, headers={"Authorization": f"Bearer {forged}"})
        ).status_code == 401
        answer = await client.get(
            path, headers={"Authorization": f"Bearer {good}", "X-Tenant-Id": "t-other"}
        )
        assert answer.status_code == 200
        assert answer.json()["tenant_id"] == "t-a"  # the token's tenant, never the header's
        assert answer.json()["roles"] == ["owner"]


async def test_every_forged_token_is_refused(
    app: FastAPI, service: str, token_mint: TokenMint
) -> None:
    mint = _gateway_mint(app) if service == "gateway" else token_mint
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        for name, token in mint.attacks(tenant_id="t-a").items():
            answer = await client.get(
                f"/v1/{service}/whoami", headers={"Authorization": f"Bearer {token}"}
            )
            assert answer.status_code == 401, (service, name, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"


def _gateway_mint(app: FastAPI) -> TokenMint:
    keys = app.state.signing_keys
    return TokenMint(private_key=keys.current, kid=keys.current_kid)


async def _eventually_ready(client: httpx.AsyncClient) -> dict[str, object]:
    for _ in range(200):
        response = await client.get("/readyz")
        if response.status_code == 200:
            return dict(response.json())
        await asyncio.sleep(0.1)
    raise AssertionError(f"never ready: {response.json()}")


def test_gateway_jwks_verifies_its_tokens(tmp_path: Path) -> None:
    from gateway.keys import jwks, key_id, load_signing_key
    from gateway.settings import Settings

    key = load_signing_key(Settings(signing_key_file=str(tmp_path / "k.pem")))
    assert (
        load_signing_key(Settings(signing_key_file=str(tmp_path / "k.pem"))).private_bytes_raw()
        == key.private_bytes_raw()
    )  # generated once, then reused
    token = jwt.encode({"sub": "x"}, key, algorithm="EdDSA", headers={"kid": key_id(key)})
    public = jwt.PyJWK(jwks(key)["keys"][0])
    assert jwt.decode(token, public, algorithms=["EdDSA"])["sub"] == "x"
