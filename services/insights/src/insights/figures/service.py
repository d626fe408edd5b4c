"""Figures' use cases: the health summary of communities and their daily series."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from insights.communities import service as communities
from insights.communities.domain import local_day, zone
from insights.communities.repository import CommunityRepository, CommunityRow
from insights.figures import domain
from insights.figures.repository import FactRepository
from servicekit.auth import Principal
from servicekit.problems import Problem


async def scope(
    session: AsyncSession,
    principal: Principal,
    community_id: str | None,
    first: date | None,
    last: date | None,
    now: datetime,
    *,
    default_days: int = 30,
) -> tuple[list[CommunityRow], date, date]:
    """What a report covers: the communities ``principal`` may read (``community_id``: that
    one only) and the period, both ends inclusive, in local days (by default the
    ``default_days`` ending today, the latest local day among them). 422 for a bad period."""
    rows = await communities.readable(session, principal, community_id)
    today = max((today_of(row, now) for row in rows), default=now.date())
    try:
        first, last = domain.period(first, last, today, default_days=default_days)
    except domain.PeriodError as error:
        raise Problem(422, "invalid-period", "Invalid period", str(error)) from error
    return rows, first, last


def today_of(row: CommunityRow, now: datetime) -> date:
    return local_day(now, zone(row.timezone))


async def summaries(
    session: AsyncSession, tenant_id: str, rows: list[CommunityRow], now: datetime
) -> list[domain.Summary]:
    """Each community's health today (its own local today), in five statements whatever
    the number of communities."""
    if not rows:
        return []
    todays = {row.community_id: today_of(row, now) for row in rows}
    ids = list(todays)
    repo = FactRepository(session)
    earliest = min(todays.values())
    members = await repo.members_now(tenant_id, ids)
    last_active = await repo.last_active(tenant_id, ids, earliest - timedelta(days=29))
    counts = await repo.kind_counts(tenant_id, ids, earliest - timedelta(days=6))
    silent = await repo.silent_counts(tenant_id, ids)
    out = []
    for community_id, today in todays.items():
        week: dict[str, int] = {}
        for kind, day, n in counts.get(community_id, []):
            if today - timedelta(days=6) <= day <= today:
                week[kind] = week.get(kind, 0) + n
        out.append(
            domain.summarize(
                community_id,
                today,
                members.get(community_id, 0),
                last_active.get(community_id, []),
                week,
                silent.get(community_id, 0),
            )
        )
    return out


async def series(
    session: AsyncSession, tenant_id: str, community_id: str, first: date, last: date
) -> list[domain.DayFigures]:
    repo = FactRepository(session)
    members = await repo.member_rows(tenant_id, community_id, last)
    engaged = await repo.engagement_rows(tenant_id, community_id, first - domain.LOOKBACK, last)
    points = await repo.points_rows(tenant_id, community_id, first, last)
    return domain.series(members, engaged, points, first, last)


async def tenant_series(
    session: AsyncSession, tenant_id: str, rows: list[CommunityRow], first: date, last: date
) -> list[domain.DayFigures]:
    per_community = [
        await series(session, tenant_id, row.community_id, first, last) for row in rows
    ]
    return domain.combine(per_community, first, last)


async def known(session: AsyncSession, tenant_id: str) -> list[CommunityRow]:
    return await CommunityRepository(session).all(tenant_id)
