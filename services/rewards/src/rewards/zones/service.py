"""The zones projection's use cases: what a tenant's zones are (cached, for the credit
path), and applying the producers' announcements.

The zones change rarely and are read for every credit, so each process keeps a tenant's
map for ``TTL_S`` seconds: one statement per tenant and TTL, none per credit. The process
that applies a change forgets its copy at once; the others see it within ``TTL_S``.
Until then they count days in the zone as it was, as they did a moment before the
announcement reached rewards. The cache is per database (engine), so two databases
never share an entry (tests run many).
"""

from __future__ import annotations

import time
import weakref
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession

from rewards.zones.domain import TENANT_SCOPE, Zones
from rewards.zones.repository import ZoneRepository

TTL_S = 30.0

_cache: weakref.WeakKeyDictionary[Engine, dict[str, tuple[float, Zones]]] = (
    weakref.WeakKeyDictionary()
)


def _entries(session: AsyncSession) -> dict[str, tuple[float, Zones]]:
    return _cache.setdefault(session.get_bind().engine, {})


async def zones_of(session: AsyncSession, tenant_id: str) -> Zones:
    """The tenant's zones: from this process' copy while it is fresh, else read once."""
    entries = _entries(session)
    found = entries.get(tenant_id)
    now = time.monotonic()
    if found is not None and now - found[0] < TTL_S:
        return found[1]
    zones = Zones(await ZoneRepository(session).zones(tenant_id))
    entries[tenant_id] = (now, zones)
    return zones


def forget(session: AsyncSession, tenant_id: str) -> None:
    _entries(session).pop(tenant_id, None)


async def set_tenant_zone(session: AsyncSession, tenant_id: str, zone: str, at: datetime) -> None:
    await ZoneRepository(session).set_zone(tenant_id, TENANT_SCOPE, zone, at)
    forget(session, tenant_id)


async def set_community_zone(
    session: AsyncSession, tenant_id: str, community_id: str, zone: str, at: datetime
) -> None:
    await ZoneRepository(session).set_zone(tenant_id, community_id, zone, at)
    forget(session, tenant_id)
