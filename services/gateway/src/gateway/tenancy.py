"""Tenant status and plan as the request path needs them, cached for a moment.

Every request checks that its tenant is not suspended. A database read per
request would cost more than the rest of the gateway's work, so answers are kept
``ttl_s`` seconds: a suspension takes effect within that time on every instance.
When an answer expires under load, one read refreshes it and the requests that
arrive meanwhile wait for that read (single flight): each doing its own read would
queue them all on the database (one connection on SQLite) and, the reads getting
slower, more requests would miss (profiled: a third of the gateway's CPU).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.domain.tenants import TenantStatus
from gateway.repository import Repository
from servicekit.db import read_only
from servicekit.problems import Problem


@dataclass(frozen=True)
class TenantInfo:
    status: str
    plan: str


class TenantDirectory:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], ttl_s: float = 2.0) -> None:
        self._sessions = sessions
        self._ttl_s = ttl_s
        self._cache: dict[str, tuple[float, TenantInfo | None]] = {}
        self._reads: dict[str, asyncio.Task[TenantInfo | None]] = {}

    async def info(self, tenant_id: str) -> TenantInfo | None:
        cached = self._cache.get(tenant_id)
        if cached is not None and time.monotonic() - cached[0] < self._ttl_s:
            return cached[1]
        read = self._reads.get(tenant_id)
        if read is None:
            read = self._reads[tenant_id] = asyncio.create_task(self._read(tenant_id))
        # Shielded: a caller that goes away (client hung up) must not cancel the others' read.
        return await asyncio.shield(read)

    async def _read(self, tenant_id: str) -> TenantInfo | None:
        """The single read of a refresh; cached unless forgotten meanwhile."""
        this = asyncio.current_task()
        started = time.monotonic()
        try:
            info = await self._fetch(tenant_id)
        finally:
            current = self._reads.get(tenant_id) is this
            if current:
                self._reads.pop(tenant_id)
        if current:
            if len(self._cache) > 100_000:
                self._cache.clear()  # bounded; entries are cheap to refetch
            self._cache[tenant_id] = (started, info)
        return info

    async def _fetch(self, tenant_id: str) -> TenantInfo | None:
        async with read_only(self._sessions) as session:
            tenant = await Repository(session).tenant(tenant_id)
        return TenantInfo(tenant.status, tenant.plan) if tenant else None

    def forget(self, tenant_id: str) -> None:
        """This instance sees its own status changes at once (a read already under way
        read before the change: its answer is not cached)."""
        self._cache.pop(tenant_id, None)
        self._reads.pop(tenant_id, None)

    async def require_active(self, tenant_id: str) -> TenantInfo:
        info = await self.info(tenant_id)
        if info is None:
            raise Problem(401, "unknown-tenant", "Unknown tenant", "the token's tenant is unknown")
        if info.status != TenantStatus.ACTIVE:
            raise tenant_suspended()
        return info


def tenant_suspended() -> Problem:
    return Problem(
        403,
        "tenant-suspended",
        "Tenant suspended",
        "this tenant is suspended; contact the platform",
    )
