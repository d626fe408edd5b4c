"""The operators' points report: earned, spent, expired, reversed over a period."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from rewards.access import Reader
from rewards.fields import ExternalId
from rewards.reports import service
from rewards.reports.repository import ReportRow
from rewards.reports.service import Report
from rewards.zones.domain import local_day
from rewards.zones.service import zones_of
from servicekit.db import read_only
from servicekit.problems import Problem
from servicekit.types import utcnow

router = APIRouter(prefix="/v1/rewards", tags=["rewards: rules and levels"])


class GroupBy(StrEnum):
    RULE = "rule"
    COMMUNITY = "community"
    DAY = "day"


class Measures(BaseModel):
    earned: int = Field(description="Points credited by earning rules")
    spent: int = Field(description="Points spent on redemptions")
    restored: int = Field(description="Points given back by cancelled redemptions")
    expired: int
    reversed: int = Field(description="Credits undone (their whole points)")
    adjusted: int = Field(description="Operators' adjustments, net")
    members_earning: int = Field(description="Distinct members credited by rules")

    @classmethod
    def of(cls, row: ReportRow) -> Measures:
        return cls(**{name: getattr(row, name) for name in Measures.model_fields})


class GroupOut(Measures):
    key: str | None = Field(
        description="Rule id, community id or local day (the report's time zone); null: none"
    )

    @classmethod
    def of_group(cls, row: ReportRow) -> GroupOut:
        key = row.key.isoformat() if isinstance(row.key, date) else row.key
        return cls(key=key, **Measures.of(row).model_dump())


class ReportOut(BaseModel):
    first: date = Field(
        alias="from",
        description="First day: a local day of the community, or of the tenant when the "
        "report covers every community",
    )
    last: date = Field(alias="to", description="Last day, inclusive")
    community_id: str | None
    group_by: str | None
    totals: Measures
    groups: list[GroupOut]

    @classmethod
    def of(cls, report: Report, community_id: str | None, group_by: str | None) -> ReportOut:
        return cls.model_validate(
            {
                "from": report.first,
                "to": report.last,
                "community_id": community_id,
                "group_by": group_by,
                "totals": Measures.of(report.totals),
                "groups": [GroupOut.of_group(row) for row in report.groups],
            }
        )


@router.get(
    "/reports/points",
    summary="Points earned, spent, expired, reversed over a period, from the ledger",
    responses={422: {"description": "Invalid period"}},
)
async def points_report(
    request: Request,
    principal: Reader,
    first: Annotated[
        date | None,
        Query(alias="from", description="First day (a local day)"),
    ] = None,
    last: Annotated[date | None, Query(alias="to", description="Last day, inclusive")] = None,
    community_id: Annotated[ExternalId | None, Query()] = None,
    group_by: GroupBy | None = None,
) -> ReportOut:
    async with read_only(request.app.state.sessions) as session:
        # The community's local days, or the tenant's for a tenant-wide report.
        tz = (await zones_of(session, principal.tenant_id)).of(community_id)
        try:
            first, last = service.report_period(first, last, local_day(utcnow(), tz))
        except service.ReportPeriodError as error:
            raise Problem(422, "invalid-period", "Invalid period", str(error)) from error
        report = await service.report(
            session,
            principal.tenant_id,
            first,
            last,
            community_id=community_id,
            group_by=group_by.value if group_by else None,
            tz=tz,
        )
    return ReportOut.of(report, community_id, group_by.value if group_by else None)
