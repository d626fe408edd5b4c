"""Queries of scheduled posts. State changes are conditional on the schedule still being
pending, so a timer and an operator racing on one schedule cannot both win."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from content.orm import scheduled_posts
from content.posts.repository import Row
from content.schedules.domain import State


class ScheduleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, values: dict[str, Any]) -> None:
        await self.session.execute(sa.insert(scheduled_posts), values)

    async def get(self, tenant_id: str, schedule_id: str) -> Row | None:
        query = sa.select(scheduled_posts).where(
            scheduled_posts.c.tenant_id == tenant_id, scheduled_posts.c.id == schedule_id
        )
        return (await self.session.execute(query)).first()

    async def page(
        self,
        tenant_id: str,
        *,
        state: State | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Row]:
        """Soonest first, by (publish_at, id)."""
        t = scheduled_posts.c
        query = sa.select(scheduled_posts).where(t.tenant_id == tenant_id)
        if state is not None:
            query = query.where(t.state == state.value)
        if after is not None:
            query = query.where(sa.tuple_(t.publish_at, t.id) > sa.tuple_(*after))
        query = query.order_by(t.publish_at, t.id).limit(limit)
        return list((await self.session.execute(query)).all())

    async def move(self, tenant_id: str, schedule_id: str, **values: Any) -> bool:
        """Change a pending schedule; False when it is no longer pending (or not there)."""
        t = scheduled_posts.c
        result = await self.session.execute(
            sa.update(scheduled_posts)
            .where(
                t.tenant_id == tenant_id,
                t.id == schedule_id,
                t.state == State.SCHEDULED.value,
            )
            .values(**values)
        )
        return bool(getattr(result, "rowcount", 0))

    async def set(self, schedule_id: str, **values: Any) -> None:
        await self.session.execute(
            sa.update(scheduled_posts).where(scheduled_posts.c.id == schedule_id).values(**values)
        )
