"""The channel funnel's use case."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from insights.channels import domain
from insights.channels.repository import ChannelRepository


async def funnel(
    session: AsyncSession, tenant_id: str, community_ids: list[str], first: date, last: date
) -> list[domain.ChannelFigures]:
    rows = await ChannelRepository(session).arrivals(tenant_id, community_ids, first, last)
    return domain.funnel(
        domain.Conversion(domain.ChannelKey(kind, code, channel), paid, renewed, refunded)
        for kind, code, channel, paid, renewed, refunded in rows
    )
