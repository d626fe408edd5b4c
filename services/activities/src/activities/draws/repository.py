"""Queries of draws, their entries and their wins."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from activities.orm import draw_entries, draw_wins, draws
from servicekit.db import insert_ignore


class DrawRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: dict[str, Any]) -> None:
        await self.session.execute(sa.insert(draws), row)

    async def get(self, tenant_id: str, draw_id: str, *, lock: str | None = None) -> Any:
        """``lock``: "share" (an entry: many at once, never beside the draw) or "update"
        (the draw, a redraw), PostgreSQL only; SQLite's single writer serializes them."""
        query = sa.select(draws).where(draws.c.tenant_id == tenant_id, draws.c.id == draw_id)
        if lock is not None:
            query = query.with_for_update(read=lock == "share")
        return (await self.session.execute(query)).first()

    async def of_tenant(self, tenant_id: str, community_ids: list[str] | None) -> list[Any]:
        query = sa.select(draws).where(draws.c.tenant_id == tenant_id)
        if community_ids is not None:
            query = query.where(draws.c.community_id.in_(community_ids))
        query = query.order_by(draws.c.created_at.desc(), draws.c.id).limit(200)
        return list((await self.session.execute(query)).all())

    async def add_entry(self, row: dict[str, Any]) -> bool:
        """False when the member entered already."""
        return await insert_ignore(self.session, draw_entries, row)

    async def entered(self, tenant_id: str, draw_id: str, member_id: str) -> bool:
        query = sa.select(draw_entries.c.member_id).where(
            draw_entries.c.tenant_id == tenant_id,
            draw_entries.c.draw_id == draw_id,
            draw_entries.c.member_id == member_id,
        )
        return (await self.session.execute(query)).first() is not None

    async def entrants(self, tenant_id: str, draw_id: str) -> list[str]:
        """Member ids, sorted by code point (the published list's order)."""
        query = sa.select(draw_entries.c.member_id).where(
            draw_entries.c.tenant_id == tenant_id, draw_entries.c.draw_id == draw_id
        )
        return sorted(str(m) for m in (await self.session.execute(query)).scalars())

    async def add_wins(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            await self.session.execute(sa.insert(draw_wins), rows)

    async def wins(self, tenant_id: str, draw_id: str) -> list[Any]:
        query = (
            sa.select(draw_wins)
            .where(draw_wins.c.tenant_id == tenant_id, draw_wins.c.draw_id == draw_id)
            .order_by(draw_wins.c.round, draw_wins.c.position)
        )
        return list((await self.session.execute(query)).all())

    async def win_of(self, tenant_id: str, draw_id: str, member_id: str) -> Any:
        query = sa.select(draw_wins).where(
            draw_wins.c.tenant_id == tenant_id,
            draw_wins.c.draw_id == draw_id,
            draw_wins.c.member_id == member_id,
        )
        return (await self.session.execute(query)).first()

    async def claim(self, tenant_id: str, win_id: str, at: datetime) -> bool:
        """Once: False when claimed or given back already."""
        result = await self.session.execute(
            sa.update(draw_wins)
            .where(
                draw_wins.c.tenant_id == tenant_id,
                draw_wins.c.win_id == win_id,
                draw_wins.c.claimed_at.is_(None),
                draw_wins.c.given_back_at.is_(None),
            )
            .values(claimed_at=at)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def give_back(self, tenant_id: str, win_ids: list[str], at: datetime) -> None:
        await self.session.execute(
            sa.update(draw_wins)
            .where(draw_wins.c.tenant_id == tenant_id, draw_wins.c.win_id.in_(win_ids))
            .values(given_back_at=at)
        )

    async def update(self, tenant_id: str, draw_id: str, **values: Any) -> None:
        await self.session.execute(
            sa.update(draws)
            .where(draws.c.tenant_id == tenant_id, draws.c.id == draw_id)
            .values(**values)
        )
