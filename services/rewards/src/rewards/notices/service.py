"""The tenant's notice setting: how many days ahead expiring points are announced."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from rewards.notices.repository import NoticeRepository
from rewards.points.ledger import DEFAULT_NOTICE_DAYS
from servicekit.types import utcnow


async def save_notice_days(session: AsyncSession, tenant_id: str, days: int) -> None:
    """Applies to lots credited from now on; timers already set keep their time."""
    await NoticeRepository(session).save_notice_days(tenant_id, days, utcnow())


async def notice_days(session: AsyncSession, tenant_id: str) -> int:
    days = await NoticeRepository(session).notice_days(tenant_id)
    return DEFAULT_NOTICE_DAYS if days is None else days
