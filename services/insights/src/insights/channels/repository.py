"""Queries of the channel funnel: memberships by arrival, and how far each went."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from insights.orm import membership_events, memberships

CONVERSIONS = ("paid", "renewed", "refunded")


class ChannelRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def arrivals(
        self, tenant_id: str, community_ids: Sequence[str], first: date, last: date
    ) -> list[tuple[str, str | None, str | None, bool, bool, bool]]:
        """(source kind, code, channel, paid, renewed, refunded) of every membership that
        joined ``first..last``, in one statement."""
        ids = sorted(set(community_ids))
        reached = {
            kind: sa.exists().where(
                membership_events.c.tenant_id == memberships.c.tenant_id,
                membership_events.c.membership_id == memberships.c.membership_id,
                membership_events.c.kind == kind,
            )
            for kind in CONVERSIONS
        }
        query = sa.select(
            memberships.c.source_kind,
            memberships.c.source_code,
            memberships.c.channel,
            *(reached[kind] for kind in CONVERSIONS),
        ).where(
            memberships.c.tenant_id == tenant_id,
            memberships.c.community_id.in_(ids),
            memberships.c.join_day.between(first, last),
        )
        return [
            (str(kind or "unknown"), code, channel, bool(p), bool(rn), bool(rf))
            for kind, code, channel, p, rn, rf in (await self.session.execute(query)).all()
        ]
