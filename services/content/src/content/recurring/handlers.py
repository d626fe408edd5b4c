"""The timer of recurring posts: runs inside the transaction its runner owns."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from content.recurring import service
from servicekit import timers
from servicekit.types import utcnow


async def publish_due(session: AsyncSession, timer: timers.Timer) -> None:
    await service.publish_due(session, timer, max(utcnow(), timer.due_at))
