"""Queries of the feed's events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.orm import feed_events
from servicekit.db import insert_ignore_returning

PURGE_BATCH = 5000

# Run after every consumer batch: built once.
_OLDEST = (
    sa.select(feed_events.c.seq)
    .where(feed_events.c.received_at < sa.bindparam("before"))
    .order_by(feed_events.c.received_at)
    .limit(PURGE_BATCH)
)
_PURGE = sa.delete(feed_events).where(feed_events.c.seq.in_(_OLDEST.scalar_subquery()))


class FeedRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_many(self, rows: list[dict[str, Any]]) -> None:
        """An event already in the feed (its id) is skipped."""
        await insert_ignore_returning(self.session, feed_events, rows, feed_events.c.seq)

    async def page(
        self,
        tenant_id: str,
        after: int,
        since: datetime,
        selection: tuple[bool, list[str], list[str]],
        limit: int,
    ) -> list[Any]:
        everything, exact, prefixes = selection
        query = sa.select(feed_events).where(
            feed_events.c.tenant_id == tenant_id,
            feed_events.c.seq > after,
            feed_events.c.received_at >= since,
        )
        if not everything:
            chosen: list[sa.ColumnElement[bool]] = [feed_events.c.type.in_(exact)] if exact else []
            chosen += [feed_events.c.type.startswith(p, autoescape=True) for p in prefixes]
            query = query.where(sa.or_(*chosen))
        query = query.order_by(feed_events.c.seq).limit(limit + 1)
        return list((await self.session.execute(query)).all())

    async def purge(self, before: datetime) -> None:
        """Drop events past the retention (a bounded batch each time)."""
        await self.session.execute(_PURGE, {"before": before})
