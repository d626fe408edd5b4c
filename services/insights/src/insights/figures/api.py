"""Community health: today's summary and the daily series, as JSON or CSV."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from insights.access import Now, Sessions, Viewer
from insights.communities import service as communities
from insights.export import CSV_RESPONSE, Format, csv_response
from insights.figures import domain, service
from servicekit.db import read_only
from servicekit.problems import problem_responses
from servicekit.text import Line

router = APIRouter(prefix="/v1/insights", tags=["insights: figures"])

CommunityFilter = Annotated[
    Line | None,
    Query(max_length=200, description="One community; absent: every community you may read"),
]
First = Annotated[date | None, Query(alias="from", description="First local day")]
Last = Annotated[date | None, Query(alias="to", description="Last local day, inclusive")]
FormatQuery = Annotated[Format, Query(description="`csv`: the same rows as a CSV file")]
RESPONSES = {
    **CSV_RESPONSE,
    **problem_responses({404: "No such community for this caller"}),
}
PERIOD_RESPONSES = {**RESPONSES, **problem_responses({422: "Invalid period"})}


class SummaryOut(BaseModel):
    community_id: str
    name: str | None
    today: date = Field(description="The community's local day")
    members: int
    dau: int = Field(description="Members active today")
    wau: int = Field(description="Members active in the 7 days ending today")
    mau: int = Field(description="Members active in the 30 days ending today")
    activity_rate: float = Field(description="dau ÷ members (活跃度)")
    weekly_activity_rate: float = Field(description="wau ÷ members")
    joined_7d: int
    paid_7d: int
    departed_7d: int = Field(description="Left, removed, refunded or expired in 7 days")
    silent: int = Field(description="Members silent now")


class TenantSummaryOut(BaseModel):
    communities: list[SummaryOut]
    members: int = Field(description="Sum over the communities (member-community pairs)")
    dau: int
    wau: int
    mau: int
    activity_rate: float
    silent: int


SUMMARY_COLUMNS = list(SummaryOut.model_fields)


def _summary_out(s: domain.Summary, name: str | None) -> SummaryOut:
    return SummaryOut(
        community_id=s.community_id,
        name=name,
        today=s.today,
        members=s.members,
        dau=s.dau,
        wau=s.wau,
        mau=s.mau,
        activity_rate=s.activity_rate,
        weekly_activity_rate=s.weekly_activity_rate,
        joined_7d=s.joined_7d,
        paid_7d=s.paid_7d,
        departed_7d=s.departed_7d,
        silent=s.silent,
    )


@router.get(
    "/summary",
    summary="Community health today: members, DAU/WAU/MAU, activity rate, arrivals, silent",
    responses=RESPONSES,
    response_model=TenantSummaryOut,
)
async def summary(
    principal: Viewer,
    sessions: Sessions,
    now: Now,
    community_id: CommunityFilter = None,
    format: FormatQuery = Format.JSON,
) -> Any:
    async with read_only(sessions) as session:
        rows = await communities.readable(session, principal, community_id)
        found = await service.summaries(session, principal.tenant_id, rows, now)
    names = {row.community_id: row.name for row in rows}
    items = [_summary_out(s, names[s.community_id]) for s in found]
    if format is Format.CSV:
        return csv_response(
            "summary.csv",
            SUMMARY_COLUMNS,
            ([getattr(item, c) for c in SUMMARY_COLUMNS] for item in items),
        )
    members = sum(item.members for item in items)
    dau = sum(item.dau for item in items)
    return TenantSummaryOut(
        communities=items,
        members=members,
        dau=dau,
        wau=sum(item.wau for item in items),
        mau=sum(item.mau for item in items),
        activity_rate=domain.rate(dau, members),
        silent=sum(item.silent for item in items),
    )


class DayOut(BaseModel):
    day: date
    joined: int
    activated: int = Field(description="Activations: arrivals and trial members who paid")
    paid: int
    renewed: int
    refunded: int
    left: int
    removed: int
    expired: int
    members: int = Field(description="Members at the end of the day")
    active: int = Field(description="Members with an engagement that day (DAU)")
    wau: int
    mau: int
    activity_rate: float = Field(description="active ÷ members")
    posts: int
    comments: int
    shares: int
    checkins: int
    quizzes: int
    points_earned: int
    points_spent: int


class SeriesOut(BaseModel):
    first: date = Field(alias="from")
    last: date = Field(alias="to")
    community_id: str | None
    days: list[DayOut]


DAY_COLUMNS = list(DayOut.model_fields)


def _day_out(f: domain.DayFigures) -> DayOut:
    values = {name: getattr(f, name) for name in DAY_COLUMNS}
    return DayOut(**values)


@router.get(
    "/series",
    summary="Daily figures over a period (default: the 30 days ending today)",
    responses=PERIOD_RESPONSES,
    response_model=SeriesOut,
)
async def series(
    principal: Viewer,
    sessions: Sessions,
    now: Now,
    first: First = None,
    last: Last = None,
    community_id: CommunityFilter = None,
    format: FormatQuery = Format.JSON,
) -> Any:
    async with read_only(sessions) as session:
        rows, first, last = await service.scope(session, principal, community_id, first, last, now)
        days = await service.tenant_series(session, principal.tenant_id, rows, first, last)
    out = [_day_out(f) for f in days]
    if format is Format.CSV:
        return csv_response(
            "series.csv", DAY_COLUMNS, ([getattr(d, c) for c in DAY_COLUMNS] for d in out)
        )
    return SeriesOut.model_validate(
        {"from": first, "to": last, "community_id": community_id, "days": out}
    )
