"""The operators' points report: what the tenant's entries add up to over a period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from rewards.reports.repository import ReportRepository, ReportRow

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
    """Both ends inclusive (UTC days); by default the 30 days ending today."""
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
) -> Report:
    start = datetime.combine(first, time(), UTC)
    end = datetime.combine(last + timedelta(days=1), time(), UTC)
    repo = ReportRepository(session)
    [totals] = await repo.report(tenant_id, start, end, community_id=community_id, group_by=None)
    groups = []
    if group_by is not None:
        groups = await repo.report(
            tenant_id, start, end, community_id=community_id, group_by=group_by
        )
    return Report(first, last, totals, groups)
