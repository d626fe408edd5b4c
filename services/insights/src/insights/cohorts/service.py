"""Cohorts' use case: the cohorts of the members who joined in a period."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from insights.cohorts import domain
from insights.cohorts.repository import CohortRepository

HORIZON = timedelta(days=7 * (max(domain.WEEKS) + 2))  # the last week any cohort needs


async def cohorts(
    session: AsyncSession,
    tenant_id: str,
    community_ids: list[str],
    first: date,
    last: date,
    today: date,
) -> list[domain.Cohort]:
    """Members who joined ``first..last`` (whole weeks: from the Monday of ``first``)."""
    repo = CohortRepository(session)
    start = domain.week_of(first)
    joins = await repo.joins(tenant_id, community_ids, start, last)
    active = await repo.active_days(tenant_id, community_ids, start, last + HORIZON)
    return domain.cohorts(joins, active, today)
