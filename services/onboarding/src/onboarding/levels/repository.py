"""Queries of the projection of rewards' level.changed."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from onboarding.orm import MemberLevel
from servicekit.db import insert_ignore


class LevelRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # levels (the projection of rewards' level.changed)
    async def member_level(self, tenant_id: str, member_id: str) -> MemberLevel | None:
        return await self.session.get(MemberLevel, (tenant_id, member_id))

    async def insert_level_if_absent(self, row: MemberLevel) -> bool:
        values = {c.name: getattr(row, c.key) for c in MemberLevel.__table__.columns}
        return await insert_ignore(self.session, MemberLevel.__table__, values)  # type: ignore[arg-type]
