"""Verified tokens are remembered until they expire, never after."""

from __future__ import annotations

import time

import pytest

from servicekit.auth import TokenVerifier
from servicekit.problems import Problem
from servicekit.testing import TokenMint


def verifier(mint: TokenMint) -> TokenVerifier:
    return TokenVerifier(
        issuer=mint.issuer,
        audience=mint.audience,
        algorithms=["EdDSA"],
        jwks=mint.jwks(),
        leeway_s=0,
    )


async def test_a_verified_token_is_served_from_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    mint = TokenMint()
    check = verifier(mint)
    token = mint.mint(tenant_id="t1", subject="u1")
    first = await check.verify(token)

    async def must_not_run(_token: str) -> None:
        raise AssertionError("verified again")

    monkeypatch.setattr(check, "_verify", must_not_run)
    assert await check.verify(token) == first


async def test_a_cached_token_is_refused_once_expired() -> None:
    mint = TokenMint()
    check = verifier(mint)
    now = int(time.time())
    token = mint.mint(tenant_id="t1", iat=now - 10, exp=now + 1)
    await check.verify(token)
    time.sleep(1.1)
    with pytest.raises(Problem) as refused:
        await check.verify(token)
    assert refused.value.status == 401
