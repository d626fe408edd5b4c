"""Meetups' consumer: rewards refused a confirmed seat's cost (the member's available
points fell short), so the seat is freed: the registration becomes ``unpaid`` and the
waitlist moves on, as after a cancellation."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from activities.meetups import service
from servicekit.events import Event

PAYMENT_REFUSED = "quanzi.rewards.meetup_payment.refused.v1"


async def on_payment_refused(session: AsyncSession, event: Event) -> None:
    meetup_id = event.data.get("meetup_id")
    registration_id = event.data.get("registration_id")
    if isinstance(meetup_id, str) and meetup_id and isinstance(registration_id, str):
        await service.payment_refused(
            session, event.tenant_id, meetup_id, registration_id, event.time
        )
