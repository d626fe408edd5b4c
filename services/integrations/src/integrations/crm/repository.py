"""Queries of the CRM field mappings (contacts are never stored here)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.orm import crm_mappings
from servicekit.db import dialect_insert


class MappingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, tenant_id: str) -> Any:
        query = sa.select(crm_mappings).where(crm_mappings.c.tenant_id == tenant_id)
        return (await self.session.execute(query)).first()

    async def put(
        self,
        tenant_id: str,
        fields: dict[str, str | None],
        unmapped: str,
        by: str,
        at: datetime,
    ) -> None:
        values = {"fields": fields, "unmapped": unmapped, "updated_by": by, "updated_at": at}
        statement = (
            dialect_insert(self.session, crm_mappings)
            .values(tenant_id=tenant_id, **values)
            .on_conflict_do_update(index_elements=[crm_mappings.c.tenant_id], set_=values)
        )
        await self.session.execute(statement)
