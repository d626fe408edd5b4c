"""Queries of a tenant's level scheme (``level_schemes``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from rewards.levels.domain import LevelScheme
from rewards.orm import level_schemes
from servicekit.db import insert_ignore


class LevelRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert_scheme(self, tenant_id: str, scheme: LevelScheme, now: datetime) -> None:
        """The tenant's first scheme (the defaults); an existing one is left alone."""
        await insert_ignore(
            self.session,
            level_schemes,
            {
                "tenant_id": tenant_id,
                "thresholds": list(scheme.thresholds),
                "names": list(scheme.names),
                "updated_at": now,
            },
        )

    async def level_scheme(self, tenant_id: str) -> LevelScheme:
        row = (
            await self.session.execute(
                select(level_schemes).where(level_schemes.c.tenant_id == tenant_id)
            )
        ).first()
        if row is None:
            return LevelScheme()
        return LevelScheme(tuple(row.thresholds), tuple(row.names))

    async def save_level_scheme(self, tenant_id: str, scheme: LevelScheme, now: datetime) -> None:
        values = {"thresholds": list(scheme.thresholds), "names": list(scheme.names)}
        await self.session.execute(
            update(level_schemes)
            .where(level_schemes.c.tenant_id == tenant_id)
            .values(**values, updated_at=now)
        )

    async def level_scheme_updated_at(self, tenant_id: str) -> datetime | None:
        return await self.session.scalar(
            select(level_schemes.c.updated_at).where(level_schemes.c.tenant_id == tenant_id)
        )
