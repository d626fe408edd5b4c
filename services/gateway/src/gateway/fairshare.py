"""A tenant's share of the upstreams: at most its plan's ``max_in_flight`` requests at once.

Rate limits cap how many requests a tenant sends per second; they do not stop one tenant's
burst (a livestream sending thousands to one 群活码) from filling the services' event loops
and connection pools, so that every other tenant's request queues behind it. Here each
tenant's requests past its share wait at the gateway, in arrival order, for one of its own
requests to finish; other tenants' requests pass straight through. A request that waited
``max_wait_s`` is answered 429 with ``Retry-After``: the client slows down, nothing is
half-done upstream.

One gateway process counts its own requests: with several gateway replicas a tenant may
have up to replicas × its share in flight (documented in the README's capacity notes).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prometheus_client import Counter, Gauge

from servicekit.problems import Problem

WAITED = Counter(
    "quanzi_gateway_tenant_queued_total", "Requests that waited for their tenant's share"
)
REFUSED = Counter(
    "quanzi_gateway_tenant_share_refused_total",
    "Requests answered 429 after waiting too long for their tenant's share",
)
IN_FLIGHT = Gauge("quanzi_gateway_tenants_in_flight", "Tenants with requests in flight upstream")


class _Share:
    def __init__(self, limit: int) -> None:
        self.semaphore = asyncio.Semaphore(limit)
        self.users = 0  # requests holding or waiting for a slot


class TenantShares:
    def __init__(self, max_wait_s: float) -> None:
        self.max_wait_s = max_wait_s
        self._shares: dict[str, _Share] = {}

    @asynccontextmanager
    async def hold(self, tenant_id: str, limit: int) -> AsyncIterator[None]:
        """A slot of the tenant's share for the duration of the block."""
        share = self._shares.get(tenant_id)
        if share is None:
            share = self._shares[tenant_id] = _Share(limit)
            IN_FLIGHT.set(len(self._shares))
        share.users += 1
        try:
            if share.semaphore.locked():
                WAITED.inc()
                try:
                    async with asyncio.timeout(self.max_wait_s):
                        await share.semaphore.acquire()
                except TimeoutError:
                    REFUSED.inc()
                    raise too_many_in_flight(limit) from None
            else:
                await share.semaphore.acquire()
            try:
                yield
            finally:
                share.semaphore.release()
        finally:
            share.users -= 1
            if share.users == 0:  # idle tenants cost nothing (the share is made again)
                del self._shares[tenant_id]
                IN_FLIGHT.set(len(self._shares))


def too_many_in_flight(limit: int) -> Problem:
    return Problem(
        429,
        "too-many-in-flight",
        "Too Many Requests",
        f"this tenant already has {limit} requests in progress; retry after 1 s",
        headers={"Retry-After": "1"},
        retry_after_s=1,
    )
