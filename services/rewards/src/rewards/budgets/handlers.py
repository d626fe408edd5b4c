"""The budget's consumer: a point drop's events (activities.campaigns) reserve its total,
pay each claimed share to its member and release what its expiry gives back. Runs inside
the transaction its runner owns."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from rewards.budgets.service import DROP_EVENTS, on_drop_event
from servicekit.events import Event

__all__ = ["DROP_EVENTS", "on_drop"]


async def on_drop(session: AsyncSession, event: Event) -> None:
    await on_drop_event(session, event)
