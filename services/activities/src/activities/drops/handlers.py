"""Point drops' consumer: rewards refused a drop (the operator's budget could not cover its
total), so it closes at once: no member claims a share that would never be paid."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from activities.drops import service
from servicekit.events import Event

DROP_REFUSED = "quanzi.rewards.budget.drop_refused.v1"


async def on_refused(session: AsyncSession, event: Event) -> None:
    drop_id = event.data.get("drop_id")
    if isinstance(drop_id, str) and drop_id:
        await service.expire(session, event.tenant_id, drop_id, event.time)
