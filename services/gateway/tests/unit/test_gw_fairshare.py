"""Unit tests of the request path's per-tenant parts: gateway.fairshare (requests past a
tenant's share wait their turn, other tenants' pass, a request that waited too long is a
429) and gateway.tenancy's cache (one read per refresh, however many requests miss)."""

from __future__ import annotations

import asyncio

import pytest

from gateway.fairshare import TenantShares
from gateway.tenancy import TenantDirectory, TenantInfo
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


class CountingDirectory(TenantDirectory):
    """The tenant directory with its database read replaced by a gate the test opens."""

    def __init__(self) -> None:
        super().__init__(sessions=None, ttl_s=60)  # type: ignore[arg-type]
        self.reads = 0
        self.gate = asyncio.Event()
        self.status = "active"

    async def _fetch(self, tenant_id: str) -> TenantInfo | None:
        self.reads += 1
        status = self.status  # what the database holds when the read starts
        await self.gate.wait()
        return TenantInfo(status, "standard")


async def test_requests_that_miss_the_tenant_cache_together_share_one_read() -> None:
    directory = CountingDirectory()
    waiting = [asyncio.create_task(directory.require_active("t-1")) for _ in range(50)]
    await asyncio.sleep(0)
    directory.gate.set()
    answers = await asyncio.gather(*waiting)
    assert directory.reads == 1 and {a.status for a in answers} == {"active"}
    await directory.require_active("t-1")  # cached
    assert directory.reads == 1


async def test_a_status_change_during_a_read_is_not_hidden_by_its_answer() -> None:
    directory = CountingDirectory()
    before = asyncio.create_task(directory.info("t-1"))
    while directory.reads == 0:  # the read has started
        await asyncio.sleep(0)
    directory.status = "suspended"
    directory.forget("t-1")  # this instance suspended the tenant meanwhile
    directory.gate.set()
    assert (await before) == TenantInfo("active", "standard")  # read before the change
    assert (await directory.info("t-1")) == TenantInfo("suspended", "standard")
    assert directory.reads == 2
