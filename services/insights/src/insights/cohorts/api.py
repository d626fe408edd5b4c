"""Retention cohorts by join week, as JSON or CSV."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from insights.access import Now, Sessions, Viewer
from insights.cohorts import domain, service
from insights.export import Format, csv_response
from insights.figures import service as figure_service
from insights.figures.api import PERIOD_RESPONSES, CommunityFilter, First, FormatQuery, Last
from servicekit.db import read_only

router = APIRouter(prefix="/v1/insights", tags=["insights: cohorts"])


class RetentionOut(BaseModel):
    week: int = Field(description="Weeks after the join week")
    active: int | None = Field(description="Members of the cohort active that week")
    share: float | None = Field(description="active ÷ cohort size; null: the week has not ended")


class CohortOut(BaseModel):
    week: date = Field(description="Monday of the join week (local days)")
    size: int
    retention: list[RetentionOut]


class CohortsOut(BaseModel):
    first: date = Field(alias="from")
    last: date = Field(alias="to")
    community_id: str | None
    cohorts: list[CohortOut]


@router.get(
    "/cohorts",
    summary="Retention by join week: the share of each cohort active in week 1, 2, 4, 8, 12",
    responses=PERIOD_RESPONSES,
    response_model=CohortsOut,
)
async def cohorts(
    principal: Viewer,
    sessions: Sessions,
    now: Now,
    first: First = None,
    last: Last = None,
    community_id: CommunityFilter = None,
    format: FormatQuery = Format.JSON,
) -> Any:
    async with read_only(sessions) as session:
        rows, first, last = await figure_service.scope(
            session, principal, community_id, first, last, now, default_days=7 * 13
        )
        ids = [row.community_id for row in rows]
        today = max((figure_service.today_of(row, now) for row in rows), default=now.date())
        found = await service.cohorts(session, principal.tenant_id, ids, first, last, today)
    out = [
        CohortOut(
            week=c.week,
            size=c.size,
            retention=[
                RetentionOut(week=k, active=c.retained[k], share=c.share(k)) for k in domain.WEEKS
            ],
        )
        for c in found
    ]
    if format is Format.CSV:
        header = ["week", "size", *(f"week_{k}" for k in domain.WEEKS)]
        return csv_response(
            "cohorts.csv",
            header,
            ([c.week, c.size, *(r.share for r in c.retention)] for c in out),
        )
    return CohortsOut.model_validate(
        {"from": first, "to": last, "community_id": community_id, "cohorts": out}
    )
