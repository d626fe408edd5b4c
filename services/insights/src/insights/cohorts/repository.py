"""Queries of the cohorts: who joined when, and who was active when."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from insights.orm import engagements, memberships

Member = tuple[str, str]  # community, member


class CohortRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def joins(
        self, tenant_id: str, community_ids: Sequence[str], first: date, last: date
    ) -> list[tuple[Member, date]]:
        query = sa.select(
            memberships.c.community_id, memberships.c.member_id, memberships.c.join_day
        ).where(
            memberships.c.tenant_id == tenant_id,
            memberships.c.community_id.in_(sorted(set(community_ids))),
            memberships.c.join_day.between(first, last),
        )
        return [((c, m), day) for c, m, day in (await self.session.execute(query)).all()]

    async def active_days(
        self, tenant_id: str, community_ids: Sequence[str], first: date, last: date
    ) -> list[tuple[Member, date]]:
        query = (
            sa.select(engagements.c.community_id, engagements.c.member_id, engagements.c.day)
            .where(
                engagements.c.tenant_id == tenant_id,
                engagements.c.community_id.in_(sorted(set(community_ids))),
                engagements.c.day.between(first, last),
            )
            .distinct()
        )
        return [((c, m), day) for c, m, day in (await self.session.execute(query)).all()]
