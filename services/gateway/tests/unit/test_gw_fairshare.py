"""Unit tests of gateway.fairshare: a tenant's requests past its share wait their turn,
other tenants' pass, and a request that waited too long is a 429."""

from __future__ import annotations

import asyncio

import pytest

from gateway.fairshare import TenantShares
from servicekit.problems import Problem


async def test_a_burst_waits_for_its_own_share_while_another_tenant_passes() -> None:
    shares = TenantShares(max_wait_s=30)
    release = asyncio.Event()
    order: list[str] = []

    async def request(tenant: str, name: str) -> None:
        async with shares.hold(tenant, 2):
            order.append(name)
            if tenant == "a":
                await release.wait()

    burst = [asyncio.create_task(request("a", f"a{n}")) for n in range(5)]
    await asyncio.sleep(0)
    assert order == ["a0", "a1"]  # its share is two; three wait
    await request("b", "b0")  # another tenant is not behind a's queue
    assert order == ["a0", "a1", "b0"]
    release.set()
    await asyncio.gather(*burst)
    assert order == ["a0", "a1", "b0", "a2", "a3", "a4"]  # the waiters, in arrival order
    assert shares._shares == {}  # idle tenants hold nothing


async def test_a_request_that_waited_too_long_is_a_429_and_frees_its_place() -> None:
    shares = TenantShares(max_wait_s=0)
    held = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with shares.hold("a", 1):
            held.set()
            await release.wait()

    task = asyncio.create_task(holder())
    await held.wait()
    with pytest.raises(Problem) as caught:
        async with shares.hold("a", 1):
            pass
    assert (caught.value.status, caught.value.headers) == (429, {"Retry-After": "1"})
    assert caught.value.slug == "too-many-in-flight"
    release.set()
    await task
    async with shares.hold("a", 1):  # the share is whole again
        pass
    assert shares._shares == {}
