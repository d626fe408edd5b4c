"""Silent members (paged) and the reactivation report, contacted against held out."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from insights.access import Now, Sessions, Viewer
from insights.communities import service as communities
from insights.communities.domain import day_start, zone
from insights.export import Format, csv_response
from insights.figures import domain as figures
from insights.figures import service as figure_service
from insights.figures.api import (
    PERIOD_RESPONSES,
    RESPONSES,
    CommunityFilter,
    First,
    FormatQuery,
    Last,
)
from insights.silence import domain
from insights.silence.repository import SilenceRepository
from servicekit.db import read_only
from servicekit.pagination import Cursor, Limit, decode_cursor, encode_cursor, invalid_cursor
from servicekit.problems import problem_responses

router = APIRouter(prefix="/v1/insights", tags=["insights: silent members"])


class SilentOut(BaseModel):
    community_id: str
    member_id: str
    silent_since: datetime
    last_engaged_at: datetime
    held_out: bool = Field(description="In the hold-out arm: receives no outreach")


class SilentPage(BaseModel):
    items: list[SilentOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page")


SILENT_COLUMNS = list(SilentOut.model_fields)


def _after(cursor: str | None) -> tuple[datetime, str, str] | None:
    values = decode_cursor(cursor, 3)
    if values is None:
        return None
    try:
        since = datetime.fromisoformat(str(values[0]))
    except ValueError as error:
        raise invalid_cursor() from error
    if since.tzinfo is None or not all(isinstance(v, str) for v in values[1:]):
        raise invalid_cursor()
    try:
        since = since.astimezone(UTC)
    except OverflowError as error:  # a time at the edge of the calendar
        raise invalid_cursor() from error
    return since, str(values[1]), str(values[2])


@router.get(
    "/silent",
    summary="Members silent now, longest silent first",
    responses={**RESPONSES, **problem_responses({400: "A cursor we did not issue"})},
    response_model=SilentPage,
)
async def silent(
    principal: Viewer,
    sessions: Sessions,
    community_id: CommunityFilter = None,
    limit: Limit = 50,
    cursor: Cursor = None,
    format: FormatQuery = Format.JSON,
) -> Any:
    after = _after(cursor)
    async with read_only(sessions) as session:
        rows = await communities.readable(session, principal, community_id)
        ids = [row.community_id for row in rows]
        found = await SilenceRepository(session).silent_page(principal.tenant_id, ids, after, limit)
    items = [
        SilentOut(
            community_id=c, member_id=m, silent_since=since, last_engaged_at=last, held_out=held
        )
        for c, m, since, last, held in found[:limit]
    ]
    following = None
    if len(found) > limit:
        last_item = items[-1]
        following = encode_cursor(
            [last_item.silent_since.isoformat(), last_item.community_id, last_item.member_id]
        )
    if format is Format.CSV:
        return csv_response(
            "silent.csv", SILENT_COLUMNS, ([getattr(i, n) for n in SILENT_COLUMNS] for i in items)
        )
    return SilentPage(items=items, next_cursor=following)


class ArmOut(BaseModel):
    silent: int = Field(description="Silences that began in the period")
    reactivated: int = Field(description="Of them, members who engaged again")
    rate: float


class ReactivationOut(BaseModel):
    first: date = Field(alias="from")
    last: date = Field(alias="to")
    community_id: str | None
    contacted: ArmOut
    held_out: ArmOut
    lift: float = Field(description="Contacted rate minus held-out rate")


@router.get(
    "/reactivation",
    summary="Reactivation of members who went silent in a period: contacted vs held out",
    responses=PERIOD_RESPONSES,
    response_model=ReactivationOut,
)
async def reactivation(
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
            session, principal, community_id, first, last, now, default_days=90
        )
        repo = SilenceRepository(session)
        episodes: list[tuple[bool, bool]] = []
        for row in rows:  # each community's period on its own local days
            tz = zone(row.timezone)
            start, end = day_start(first, tz), day_start(last + figures.ONE_DAY, tz)
            found = await repo.episodes(principal.tenant_id, [row.community_id], start, end)
            episodes += [(held, back) for _, held, back in found]
    result = domain.report(episodes)
    arms = {
        name: ArmOut(silent=arm.silent, reactivated=arm.reactivated, rate=arm.rate)
        for name, arm in (("contacted", result.contacted), ("held_out", result.held_out))
    }
    if format is Format.CSV:
        return csv_response(
            "reactivation.csv",
            ["arm", "silent", "reactivated", "rate"],
            ([name, a.silent, a.reactivated, a.rate] for name, a in arms.items()),
        )
    return ReactivationOut.model_validate(
        {
            "from": first,
            "to": last,
            "community_id": community_id,
            **arms,
            "lift": result.lift,
        }
    )
