"""Scheduled posts (operators): publish at a time, move it, cancel it, list what is queued."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from content.access import Editor, Reader, Sessions
from content.posts.schemas import PostIn
from content.schedules import service
from content.schedules.domain import State
from servicekit.db import read_only, transaction
from servicekit.pagination import Cursor, Limit, Page, encode_cursor, keyset_after
from servicekit.problems import problem_responses
from servicekit.text import Body, Line
from servicekit.types import utcnow

router = APIRouter(prefix="/v1/content", tags=["content: schedules"])

ScheduleId = Annotated[Line, Path(max_length=36)]
NOT_FOUND = problem_responses({404: "No such schedule (or community) in this tenant"})
REFUSED = problem_responses(
    {
        409: "The schedule is no longer pending (published, cancelled, failed)",
        422: "A publish time in the past, too far ahead, or without a zone",
    }
)
WHEN = (
    "With an offset: that instant. Without one: the wall-clock time in the zone of the "
    "post's communities (they must share one onboarding announced)."
)


class ScheduleIn(Body):
    post: PostIn
    publish_at: datetime = Field(description=WHEN)


class MoveIn(Body):
    publish_at: datetime = Field(description=WHEN)


class ScheduleOut(BaseModel):
    id: str
    state: State
    publish_at: datetime = Field(description="UTC")
    timezone: str | None = Field(description="The zone a wall-clock time was read in")
    post: dict[str, Any] = Field(description="The post as it will be published")
    created_by: str
    created_at: datetime
    updated_at: datetime
    post_id: str | None = Field(description="The post, once published")
    failure: str | None = Field(description="Why it could not be published (failed)")

    @classmethod
    def of(cls, row: Any) -> ScheduleOut:
        return cls.model_validate({**row._mapping, "post": row.draft})


@router.post(
    "/schedules",
    status_code=201,
    summary="Schedule a post (operators): published once at publish_at",
    responses={**NOT_FOUND, **REFUSED},
)
async def create_schedule(body: ScheduleIn, sessions: Sessions, principal: Editor) -> ScheduleOut:
    async with transaction(sessions) as session:
        row = await service.schedule(session, principal, body.post, body.publish_at, utcnow())
    return ScheduleOut.of(row)


@router.get("/schedules", summary="Scheduled posts, soonest first")
async def list_schedules(
    sessions: Sessions,
    principal: Reader,
    state: Annotated[State | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[ScheduleOut]:
    after = keyset_after(cursor)
    async with read_only(sessions) as session:
        rows = await service.page(session, principal, state, after, limit + 1)
    items = [ScheduleOut.of(row) for row in rows[:limit]]
    more = len(rows) > limit
    last = items[-1] if more else None
    return Page[ScheduleOut](
        items=items,
        next_cursor=encode_cursor([last.publish_at.isoformat(), last.id]) if last else None,
    )


@router.get("/schedules/{schedule_id}", summary="One scheduled post", responses=NOT_FOUND)
async def get_schedule(
    schedule_id: ScheduleId, sessions: Sessions, principal: Reader
) -> ScheduleOut:
    async with read_only(sessions) as session:
        row = await service.get(session, principal, schedule_id)
    return ScheduleOut.of(row)


@router.patch(
    "/schedules/{schedule_id}",
    summary="Move a pending scheduled post to another time",
    responses={**NOT_FOUND, **REFUSED},
)
async def move_schedule(
    schedule_id: ScheduleId, body: MoveIn, sessions: Sessions, principal: Editor
) -> ScheduleOut:
    async with transaction(sessions) as session:
        row = await service.reschedule(session, principal, schedule_id, body.publish_at, utcnow())
    return ScheduleOut.of(row)


@router.post(
    "/schedules/{schedule_id}/cancel",
    summary="Cancel a pending scheduled post",
    responses={**NOT_FOUND, 409: REFUSED[409]},
)
async def cancel_schedule(
    schedule_id: ScheduleId, sessions: Sessions, principal: Editor
) -> ScheduleOut:
    async with transaction(sessions) as session:
        row = await service.cancel(session, principal, schedule_id, utcnow())
    return ScheduleOut.of(row)
