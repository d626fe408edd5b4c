"""Tenant status and plan as the request path needs them, cached for a moment.

Every request checks that its tenant is not suspended. A database read per
request would cost more than the rest of the gateway's work, so answers are kept
``ttl_s`` seconds: a suspension takes effect within that time on every instance.
"""

from __future__ import annotations

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

    async def info(self, tenant_id: str) -> TenantInfo | None:
        now = time.monotonic()
        cached = self._cache.get(tenant_id)
        if cached is not None and now - cached[0] < self._ttl_s:
            return cached[1]
        async with read_only(self._sessions) as session:
            tenant = await Repository(session).tenant(tenant_id)
        info = TenantInfo(tenant.status, tenant.plan) if tenant else None
        if len(self._cache) > 100_000:
            self._cache.clear()  # bounded; entries are cheap to refetch
        self._cache[tenant_id] = (now, info)
        return info

    def forget(self, tenant_id: str) -> None:
        """This instance sees its own status changes at once."""
        self._cache.pop(tenant_id, None)

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
