"""Journeys through the gateway over real HTTP, services and broker as processes."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from quanzi_devstack.run import SERVICES, Platform
from servicekit.settings import DEV_SECRET
from servicekit.testing import TokenMint

if TYPE_CHECKING:
    from conftest import Tenant


PLATFORM_ADMIN = {"Authorization": f"Bearer {DEV_SECRET}"}  # the development default


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def wait_ready(url: str, timeout_s: float = 60) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    while True:
        response = httpx.get(url + "/readyz", timeout=5)
        if response.status_code == 200 or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def test_readiness_through_the_gateway_covers_every_service(platform: Platform) -> None:
    assert httpx.get(platform.gateway_url + "/healthz").json() == {"status": "alive"}
    ready = wait_ready(platform.gateway_url)
    assert ready.status_code == 200, ready.text
    upstreams = ready.json()["upstreams"]  # reported; the gateway's own checks decide
    assert {name: upstreams[name] for name in SERVICES} == {name: "ok" for name in SERVICES}
    checks = ready.json()["checks"]
    assert checks["database"] == "ok" and checks["broker"] == "ok"


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_verifies_the_gateways_tokens_itself(
    platform: Platform, tenant: Tenant, service: str
) -> None:
    through_gateway = httpx.get(
        f"{platform.gateway_url}/v1/{service}/whoami",
        headers={**bearer(tenant.owner_token), "X-Request-Id": "req-e2e-1"},
    )
    assert through_gateway.status_code == 200, through_gateway.text
    assert through_gateway.json()["tenant_id"] == tenant.id
    assert through_gateway.json()["roles"] == ["owner"]
    assert through_gateway.headers["x-request-id"] == "req-e2e-1"
    assert "ratelimit-remaining" in through_gateway.headers
    # Straight at the service, bypassing the gateway: no token, no answer.
    bypass = httpx.get(f"{platform.url(service)}/v1/{service}/whoami")
    assert bypass.status_code == 401
    assert bypass.json()["type"].endswith("/unauthenticated")


def test_api_keys_reach_services_as_gateway_signed_tokens(
    platform: Platform, tenant: Tenant
) -> None:
    answer = httpx.get(
        f"{platform.gateway_url}/v1/rewards/whoami", headers={"X-Api-Key": tenant.api_key}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["tenant_id"] == tenant.id
    assert answer.json()["subject"].startswith("apikey:")
    assert answer.json()["roles"] == ["integration"]
    member = httpx.get(
        f"{platform.gateway_url}/v1/content/whoami", headers=bearer(tenant.member_token)
    ).json()
    assert member == {
        "tenant_id": tenant.id,
        "subject": "member-1",
        "roles": ["member"],
        "token_type": "member",
    }


def test_unknown_routes_and_forged_tokens_get_problems(platform: Platform, tenant: Tenant) -> None:
    missing = httpx.get(
        platform.gateway_url + "/v1/nowhere/at-all", headers=bearer(tenant.owner_token)
    )
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    foreign = TokenMint().mint(tenant_id=tenant.id)  # right shape, someone else's key
    forged = httpx.get(f"{platform.gateway_url}/v1/rewards/whoami", headers=bearer(foreign))
    assert forged.status_code == 401
    anonymous = httpx.get(f"{platform.gateway_url}/v1/rewards/whoami")
    assert anonymous.status_code == 401


def test_forged_tokens_are_refused_by_the_gateway_and_by_each_service(
    platform: Platform, tenant: Tenant
) -> None:
    pem = (platform.var_dir / "gateway-signing-key.pem").read_bytes()
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, Ed25519PrivateKey)
    kid = httpx.get(f"{platform.gateway_url}/.well-known/jwks.json").json()["keys"][0]["kid"]
    attacks = TokenMint(private_key=key, kid=kid).attacks(tenant_id=tenant.id)
    for name, token in attacks.items():
        for base, service in [(platform.gateway_url, "rewards")] + [
            (platform.url(s), s) for s in SERVICES
        ]:
            answer = httpx.get(f"{base}/v1/{service}/whoami", headers=bearer(token))
            assert answer.status_code == 401, (name, base, answer.text)


def test_member_home_gathers_profile_memberships_and_points(
    platform: Platform, tenant: Tenant
) -> None:
    """The profile the tenant's backend sent when minting the token travels gateway →
    Kafka → onboarding's member directory; /v1/me then reads it from onboarding."""
    deadline = time.monotonic() + 30
    while True:
        home = httpx.get(f"{platform.gateway_url}/v1/me", headers=bearer(tenant.member_token))
        assert home.status_code == 200, home.text
        body = home.json()
        if (body["profile"] or {}).get("display_name") or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert body["missing"] == []
    assert body["profile"]["display_name"] == "小林"
    assert body["memberships"]["items"] == []
    assert body["points"]["available"] == 0


def test_member_home_answers_in_part_when_a_service_is_down(
    platform: Platform, tenant: Tenant
) -> None:
    platform.kill("rewards")
    try:
        home = httpx.get(f"{platform.gateway_url}/v1/me", headers=bearer(tenant.member_token))
        assert home.status_code == 200
        assert [m["part"] for m in home.json()["missing"]] == ["points"]
        assert home.json()["profile"] is not None
    finally:
        platform.start_service("rewards")
        platform.wait_healthy(60)


def test_merged_openapi_lists_every_service_once(platform: Platform) -> None:
    spec = httpx.get(f"{platform.gateway_url}/openapi.json").json()
    paths = spec["paths"]
    for service in SERVICES:
        assert f"/v1/{service}/whoami" in paths
    assert "/v1/auth/login" in paths and "/v1/platform/tenants" in paths
    tags = {
        tag
        for ops in paths.values()
        for op in ops.values()
        if isinstance(op, dict)
        for tag in op.get("tags", [])
    }
    assert set(SERVICES) <= tags
    assert {"bearerAuth", "apiKey"} <= set(spec["components"]["securitySchemes"])
    assert httpx.get(f"{platform.gateway_url}/docs").status_code == 200


def test_a_flood_is_rate_limited_with_retry_after(platform: Platform, tenant: Tenant) -> None:
    statuses = []
    with httpx.Client(base_url=platform.gateway_url) as client:
        for _ in range(80):
            answer = client.get("/v1/activities/whoami", headers=bearer(tenant.member_token))
            statuses.append(answer.status_code)
            if answer.status_code == 429:
                assert int(answer.headers["Retry-After"]) >= 1
                assert answer.json()["type"].endswith("/rate-limited")
                break
    assert 429 in statuses and statuses[0] == 200


def test_a_suspended_tenant_is_refused_through_the_gateway(
    platform: Platform, make_tenant: Callable[[str], Tenant]
) -> None:
    other = make_tenant(f"e2e-susp-{uuid.uuid4().hex[:6]}")
    url = f"{platform.gateway_url}/v1/rewards/whoami"
    assert httpx.get(url, headers=bearer(other.owner_token)).status_code == 200
    httpx.post(
        f"{platform.gateway_url}/v1/platform/tenants/{other.id}/suspend",
        headers=PLATFORM_ADMIN,
        json={"reason": "e2e"},
    ).raise_for_status()
    time.sleep(2.5)  # other gateway instances' tenant cache lives 2 s
    refused = httpx.get(url, headers=bearer(other.owner_token))
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("/tenant-suspended")


def test_a_killed_service_gives_502_then_recovers_on_restart(
    platform: Platform, tenant: Tenant
) -> None:
    url = f"{platform.gateway_url}/v1/content/whoami"
    headers = bearer(tenant.owner_token)
    platform.kill("content")
    down = httpx.get(url, headers=headers)
    assert down.status_code in (502, 503)
    assert down.json()["type"].endswith(("/bad-gateway", "/upstream-unavailable"))
    platform.start_service("content")
    platform.wait_healthy(60)
    deadline = time.monotonic() + 30  # the circuit breaker lets a trial through after its reset
    while httpx.get(url, headers=headers).status_code != 200:
        assert time.monotonic() < deadline, "content never came back through the gateway"
        time.sleep(0.5)
