"""Webhooks' consumer: the platform's events become messages to the endpoints that
subscribe to them (the runner owns the transaction; nothing here commits)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from integrations import clock
from integrations.webhooks import delivery, messages
from servicekit.events import Event


async def on_events(session: AsyncSession, batch: Sequence[Event]) -> None:
    """First attempts go as soon as this poll's transaction commits (claimed in it), when
    the process's dispatcher runs; else at their attempt timers."""
    dispatcher = delivery.running(session)
    policy = dispatcher.policy if dispatcher is not None else None
    jobs = await messages.fan_out(session, batch, clock.now_of(session), policy)
    if dispatcher is not None and jobs:
        delivery.send_after_commit(session, dispatcher, jobs)
