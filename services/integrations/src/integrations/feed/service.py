"""The pull feed's use cases: record the platform's events per tenant, read them in order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from integrations.feed import domain
from integrations.feed.repository import FeedRepository
from integrations.webhooks.domain import public_type, valid_pattern
from servicekit.events import Event
from servicekit.problems import Problem


async def record(
    session: AsyncSession, batch: Sequence[Event], now: datetime, retention: timedelta
) -> None:
    rows = [
        {
            "tenant_id": event.tenant_id,
            "event_id": event.id,
            "type": public_type(event.type),
            "occurred_at": event.time,
            "received_at": now,
            "data": event.data,
        }
        for event in batch
    ]
    repo = FeedRepository(session)
    await repo.add_many(rows)
    await repo.purge(domain.kept_since(now, retention))


@dataclass(frozen=True)
class Page:
    rows: list[Any]
    next_cursor: str
    has_more: bool


async def page(
    session: AsyncSession,
    tenant_id: str,
    after: str | None,
    types: list[str],
    limit: int,
    now: datetime,
    retention: timedelta,
) -> Page:
    try:
        position = domain.position(after)
    except domain.InvalidCursor:
        raise Problem(
            400, "invalid-cursor", "Invalid cursor", "pass back `next_cursor` unchanged"
        ) from None
    bad = [t for t in types if not valid_pattern(t)]
    if bad:
        raise Problem(
            422, "invalid-types", "Invalid types", f"not an event type pattern: {bad[0]!r}"
        )
    rows = await FeedRepository(session).page(
        tenant_id, position, domain.kept_since(now, retention), domain.selection(types), limit
    )
    shown = rows[:limit]
    last = shown[-1].seq if shown else position
    return Page(shown, domain.cursor(last), len(rows) > limit)
