"""Queries of the projection of rewards' level.changed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from onboarding.levels.domain import Level
from onboarding.orm import MemberLevel
from servicekit.db import dialect_of, select_by_keys, upsert_statement

Key = tuple[str, str]  # (tenant_id, member_id)
_LEVELS: sa.Table = MemberLevel.__table__  # type: ignore[assignment]


class LevelRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def member_level(self, tenant_id: str, member_id: str) -> MemberLevel | None:
        return await self.session.get(MemberLevel, (tenant_id, member_id))

    async def levels(self, keys: Sequence[Key]) -> dict[Key, Level]:
        """The levels of ``(tenant_id, member_id)`` keys, in one statement."""
        if not keys:
            return {}
        query = select_by_keys(_LEVELS, ("tenant_id", "member_id"))
        return {
            (row.tenant_id, row.member_id): Level(row.level, row.changed_at)
            for row in await self.session.execute(query, {"keys": sorted(set(keys))})
        }

    async def save_levels(self, levels: dict[Key, Level]) -> None:
        """Upsert the rows in one executemany (one cached statement)."""
        if not levels:
            return
        rows = [
            {"tenant_id": tenant_id, "member_id": member_id, **asdict(level)}
            for (tenant_id, member_id), level in sorted(levels.items())
        ]
        key, columns = ("tenant_id", "member_id"), ("level", "changed_at")
        upsert = upsert_statement(dialect_of(self.session), _LEVELS, key, columns)
        await self.session.execute(upsert, rows)
