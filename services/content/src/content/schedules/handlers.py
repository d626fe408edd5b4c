"""The timer of scheduled posts: runs inside the transaction its runner owns."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from content.schedules import service
from servicekit import timers
from servicekit.types import utcnow


async def publish_due(session: AsyncSession, timer: timers.Timer) -> None:
    # Published as of now, never before its time (a runner may claim it a little late).
    await service.publish_due(session, timer, max(utcnow(), timer.due_at))
