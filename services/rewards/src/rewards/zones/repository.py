"""Queries of the zones projection (``local_zones``). Scoped by the tenant."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from rewards.orm import local_zones
from servicekit.db import dialect_insert

# Built once: the credit path reads it for every tenant whose cached zones are stale.
_ZONES_OF = select(local_zones.c.scope, local_zones.c.zone).where(
    local_zones.c.tenant_id == bindparam("tenant_id")
)


class ZoneRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def zones(self, tenant_id: str) -> dict[str, str]:
        """scope → zone name: the tenant's under ``TENANT_SCOPE``, communities' by id."""
        rows = await self.session.execute(_ZONES_OF, {"tenant_id": tenant_id})
        return {str(scope): str(zone) for scope, zone in rows}

    async def set_zone(self, tenant_id: str, scope: str, zone: str, at: datetime) -> None:
        """Upsert, keeping the newest announcement: an older event applied late (another
        partition, a replay) never overwrites a newer zone."""
        statement = dialect_insert(self.session, local_zones).values(
            tenant_id=tenant_id, scope=scope, zone=zone, changed_at=at
        )
        statement = statement.on_conflict_do_update(
            index_elements=[local_zones.c.tenant_id, local_zones.c.scope],
            set_={"zone": statement.excluded.zone, "changed_at": statement.excluded.changed_at},
            where=statement.excluded.changed_at >= local_zones.c.changed_at,
        )
        await self.session.execute(statement)
