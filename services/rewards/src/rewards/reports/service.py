"""The operators' points report: what the tenant's entries add up to over a period of
local days: the community's when the report is for one, else the tenant's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from rewards.reports.repository import ReportRepository, ReportRow
from rewards.zones.domain import days_bounds, offsets

MAX_REPORT_DAYS = 366


REPORT_GROUPS = ("rule", "community", "day")


@dataclass(frozen=True)
class Report:
    first: date
    last: date
    totals: ReportRow
    groups: list[ReportRow]


class ReportPeriodError(ValueError):
    pass


def report_period(first: date | None, last: date | None, today: date) -> tuple[date, date]:
    """Both ends inclusive (local days); by default the 30 days ending today."""
    last = last or today
    first = first or last - timedelta(days=29)
    if first > last:
        raise ReportPeriodError("from must not be after to")
    if (last - first).days + 1 > MAX_REPORT_DAYS:
        raise ReportPeriodError(f"a report covers at most {MAX_REPORT_DAYS} days")
    return first, last


async def report(
    session: AsyncSession,
    tenant_id: str,
    first: date,
    last: date,
    *,
    community_id: str | None,
    group_by: str | None,
    tz: ZoneInfo,
) -> Report:
    """``first..last`` are days in ``tz``: they start and end at its midnights."""
    start, end = days_bounds(first, last, tz)
    repo = ReportRepository(session)
    [totals] = await repo.report(tenant_id, start, end, community_id=community_id, group_by=None)
    groups = []
    if group_by is not None:
        pieces = offsets(start, end, tz) if group_by == "day" else []
        groups = await repo.report(
            tenant_id, start, end, community_id=community_id, group_by=group_by, offsets=pieces
        )
    return Report(first, last, totals, groups)
