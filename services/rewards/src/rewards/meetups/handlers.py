"""Meetup payments' consumer: activities' confirmed seats are charged (or refused), their
cancellations refunded. Activities keys both events by the member, so a registration's
cancellation is read after the confirmation it refunds."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from rewards.meetups import service
from servicekit.events import Event

MEETUP_CONFIRMED = service.MEETUP_CONFIRMED
MEETUP_CANCELLED = service.MEETUP_CANCELLED


async def on_confirmed(session: AsyncSession, event: Event) -> None:
    await service.charge_seat(session, event)


async def on_cancelled(session: AsyncSession, event: Event) -> None:
    await service.refund_seat(session, event)
