"""The whole platform as real processes (dev broker, six services) and a tenant on it,
set up the way a company is: platform admin → invitation (read from Kafka, as the
mailer would) → owner password → sign-in → API key → member token."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from quanzi_devstack.run import Platform
from servicekit.settings import DEV_SECRET

PLATFORM_ADMIN = {"Authorization": f"Bearer {DEV_SECRET}"}  # the development default
PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Tenant:
    id: str
    slug: str
    owner_token: str
    api_key: str
    member_token: str


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    var_dir = tmp_path_factory.mktemp("platform")
    # activities' and insights' development-only clocks: journeys write seconds here to move
    # their days.
    clock = {
        "QUANZI_ACTIVITIES_CLOCK_OFFSET_FILE": str(var_dir / "activities-clock"),
        "QUANZI_INSIGHTS_CLOCK_OFFSET_FILE": str(var_dir / "insights-clock"),
    }
    # integrations delivers webhooks to receivers the journeys run on this machine (over
    # http, on loopback): development settings, refused in production.
    receivers = {
        "QUANZI_INTEGRATIONS_WEBHOOKS_ALLOW_PRIVATE": "true",
        "QUANZI_INTEGRATIONS_WEBHOOKS_ALLOW_HTTP": "true",
    }
    # The session's tenant is made once per worker and its tokens serve the whole run (about
    # twenty minutes in CI): they must outlive it, or a late test meets a 401.
    lifetimes = {
        "QUANZI_GATEWAY_ACCESS_TOKEN_TTL_S": "7200",
        "QUANZI_GATEWAY_MEMBER_TOKEN_TTL_S": "7200",
    }
    running = Platform.on_free_ports(
        var_dir, quiet=True, extra_env={**clock, **receivers, **lifetimes}
    )
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def tenant(platform: Platform) -> Tenant:
    return new_tenant(platform, f"e2e-{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="module")  # a module may bring its own platform (test_replicas.py)
def make_tenant(platform: Platform) -> Callable[..., Tenant]:
    """``make_tenant(slug)``, or ``make_tenant(slug, plan="enterprise")``."""
    return lambda slug, plan="standard": new_tenant(platform, slug, plan)


def new_tenant(platform: Platform, slug: str, plan: str = "standard") -> Tenant:
    gateway = httpx.Client(base_url=platform.gateway_url, timeout=10)
    owner_email = f"owner@{slug}.example"
    created = gateway.post(
        "/v1/platform/tenants",
        headers=PLATFORM_ADMIN,
        json={
            "slug": slug,
            "name": slug,
            "plan": plan,
            "owner_email": owner_email,
            "owner_name": "Owner",
        },
    )
    assert created.status_code == 201, created.text
    token = asyncio.run(invitation_from_kafka(platform.bootstrap_servers, owner_email))
    accepted = gateway.post(
        "/v1/auth/invitations/accept", json={"token": token, "password": PASSWORD}
    )
    assert accepted.status_code == 204, accepted.text
    login = gateway.post(
        "/v1/auth/login", json={"tenant": slug, "email": owner_email, "password": PASSWORD}
    )
    owner = login.json()["access_token"]
    key = gateway.post(
        "/v1/api-keys",
        headers={"Authorization": f"Bearer {owner}"},
        json={"name": "CRM", "scopes": ["members:write", "read"]},
    ).json()["key"]
    member = gateway.post(
        "/v1/member-tokens",
        headers={"X-Api-Key": key},
        json={"external_id": "member-1", "profile": {"display_name": "小林"}},
    )
    assert member.status_code == 201, member.text
    return Tenant(created.json()["tenant"]["id"], slug, owner, key, member.json()["access_token"])


async def invitation_from_kafka(bootstrap: str, email: str, timeout_s: float = 30) -> str:
    """The mailer's view: the invitation event on gateway.notifications (outbox → relay)."""
    consumer = AIOKafkaConsumer(
        "gateway.notifications",
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=10,
    )
    await consumer.start()
    try:
        async with asyncio.timeout(timeout_s):
            async for record in consumer:
                data = json.loads(record.value)
                if data.get("email") == email and "invitation_token" in data:
                    return str(data["invitation_token"])
    finally:
        await consumer.stop()
    raise AssertionError("unreachable")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)
