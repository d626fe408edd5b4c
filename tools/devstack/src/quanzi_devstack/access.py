"""Shortcuts into a running development platform for benchmarks and tools: a tenant made
through the platform admin API, and tokens signed with the gateway's own development key
(so load is not limited by sign-in speed). Never for production: it reads the key file."""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from quanzi_devstack.run import Platform
from servicekit.settings import DEV_SECRET
from servicekit.testing import TokenMint


def create_tenant(platform: Platform, slug: str) -> str:
    """A new tenant's id (its owner invitation is left unanswered)."""
    created = httpx.post(
        platform.gateway_url + "/v1/platform/tenants",
        headers={"Authorization": f"Bearer {DEV_SECRET}"},
        json={"slug": slug, "name": slug, "owner_email": f"o@{slug}.example", "owner_name": "O"},
        timeout=10,
    )
    created.raise_for_status()
    return str(created.json()["tenant"]["id"])


@dataclass(frozen=True)
class GatewaySigner:
    mint: TokenMint

    @classmethod
    def of(cls, platform: Platform) -> GatewaySigner:
        pem = (platform.var_dir / "gateway-signing-key.pem").read_bytes()
        key = serialization.load_pem_private_key(pem, password=None)
        assert isinstance(key, Ed25519PrivateKey)
        jwks = httpx.get(platform.gateway_url + "/.well-known/jwks.json", timeout=10).json()
        return cls(TokenMint(private_key=key, kid=jwks["keys"][0]["kid"]))

    def operator(self, tenant_id: str, role: str = "owner", ttl_s: int = 3600) -> str:
        return self.mint.mint(tenant_id=tenant_id, roles=[role], exp=int(time.time()) + ttl_s)

    def member(self, tenant_id: str, external_id: str, ttl_s: int = 3600) -> str:
        return self.mint.mint(
            tenant_id=tenant_id, subject=external_id, typ="member", exp=int(time.time()) + ttl_s
        )
