"""Queries of recurring posts and of the occurrences that went out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from content.orm import recurring_posts, recurring_runs
from content.posts.repository import Row
from servicekit.db import insert_ignore


class RecurringRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, values: dict[str, Any]) -> None:
        await self.session.execute(sa.insert(recurring_posts), values)

    async def get(self, tenant_id: str, recurring_id: str) -> Row | None:
        query = sa.select(recurring_posts).where(
            recurring_posts.c.tenant_id == tenant_id, recurring_posts.c.id == recurring_id
        )
        return (await self.session.execute(query)).first()

    async def page(
        self, tenant_id: str, after: tuple[datetime, str] | None, limit: int
    ) -> list[Row]:
        """Newest first, by (created_at, id)."""
        t = recurring_posts.c
        query = sa.select(recurring_posts).where(t.tenant_id == tenant_id)
        if after is not None:
            query = query.where(sa.tuple_(t.created_at, t.id) < sa.tuple_(*after))
        query = query.order_by(t.created_at.desc(), t.id.desc()).limit(limit)
        return list((await self.session.execute(query)).all())

    async def stop(self, tenant_id: str, recurring_id: str, now: datetime) -> None:
        await self.session.execute(
            sa.update(recurring_posts)
            .where(recurring_posts.c.tenant_id == tenant_id, recurring_posts.c.id == recurring_id)
            .values(state="stopped", updated_at=now)
        )

    async def claim_run(self, values: dict[str, Any]) -> bool:
        """True when this occurrence and zone had not gone out yet (now it has)."""
        return await insert_ignore(self.session, recurring_runs, values)

    async def finish_run(
        self, recurring_id: str, zone: str, occurrence: datetime, **values: Any
    ) -> None:
        r = recurring_runs.c
        await self.session.execute(
            sa.update(recurring_runs)
            .where(r.recurring_id == recurring_id, r.zone == zone, r.occurrence == occurrence)
            .values(**values)
        )

    async def runs(self, recurring_id: str, limit: int = 20) -> list[Row]:
        r = recurring_runs.c
        query = (
            sa.select(recurring_runs)
            .where(r.recurring_id == recurring_id)
            .order_by(r.occurrence.desc(), r.zone)
            .limit(limit)
        )
        return list((await self.session.execute(query)).all())
