"""The feed's consumer: every exposed event of the platform, kept per tenant in order."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from integrations.feed import service
from servicekit.consumer import BatchHandler
from servicekit.events import Event
from servicekit.types import utcnow


def recorder(retention: timedelta) -> BatchHandler:
    async def on_events(session: AsyncSession, batch: Sequence[Event]) -> None:
        await service.record(session, batch, utcnow(), retention)

    return on_events
