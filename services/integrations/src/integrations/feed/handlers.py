"""The feed's consumer: every exposed event of the platform, kept per tenant in order."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from integrations import clock
from integrations.feed import service
from servicekit.consumer import BatchHandler
from servicekit.events import Event


def recorder(retention: timedelta) -> BatchHandler:
    async def on_events(session: AsyncSession, batch: Sequence[Event]) -> None:
        await service.record(session, batch, clock.now_of(session), retention)

    return on_events
