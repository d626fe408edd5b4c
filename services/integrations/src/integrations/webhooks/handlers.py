"""Webhooks' consumer: the platform's events become messages to the endpoints that
subscribe to them (the runner owns the transaction; nothing here commits)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from integrations import clock
from integrations.webhooks import service
from servicekit.events import Event


async def on_events(session: AsyncSession, batch: Sequence[Event]) -> None:
    await service.fan_out(session, batch, clock.now_of(session))
