"""Recurring posts (operators): 早安 at 07:30, 晚安 at 22:00, weekly themes, by RRULE."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from content.access import Editor, Reader, Sessions
from content.posts.schemas import PostIn
from content.recurring import service
from content.recurring.domain import MAX_RULE
from servicekit.db import read_only, transaction
from servicekit.pagination import Cursor, Limit, Page, keyset_after, next_cursor
from servicekit.problems import problem_responses
from servicekit.text import Body, Line
from servicekit.types import utcnow

router = APIRouter(prefix="/v1/content", tags=["content: recurring posts"])

RecurringId = Annotated[Line, Path(max_length=36)]
NOT_FOUND = problem_responses({404: "No such recurring post (or community)"})
PREVIEW = 5


class RecurringIn(Body):
    post: PostIn = Field(description="The template: every occurrence publishes it")
    rule: Annotated[Line, Field(min_length=1, max_length=MAX_RULE)] = Field(
        description="An RFC 5545 RRULE, e.g. FREQ=DAILY (with start 07:30) or "
        "FREQ=WEEKLY;BYDAY=MO;BYHOUR=20;BYMINUTE=0"
    )
    start: datetime = Field(
        description="DTSTART as a wall-clock time without an offset, read in each "
        "community's own time zone (07:30 is 07:30 in Shanghai and in New York)"
    )


class Occurrence(BaseModel):
    zone: str
    at: datetime = Field(description="UTC")


class RunOut(BaseModel):
    zone: str
    occurrence: datetime
    post_id: str | None
    failure: str | None


class RecurringOut(BaseModel):
    id: str
    state: str = Field(description="active | stopped")
    rule: str
    start: str = Field(description="Wall-clock DTSTART")
    zones: dict[str, list[str]] = Field(description="Time zone → its communities")
    post: dict[str, Any]
    created_by: str
    created_at: datetime
    updated_at: datetime
    upcoming: list[Occurrence] = Field(description="The next occurrences per zone")
    recent: list[RunOut] = Field(default_factory=list, description="Occurrences that went out")

    @classmethod
    def of(cls, row: Any, now: datetime, runs: list[Any] | None = None) -> RecurringOut:
        upcoming = [Occurrence(zone=z, at=at) for z, at in service.upcoming(row, now, PREVIEW)]
        return cls.model_validate(
            {
                **row._mapping,
                "post": row.draft,
                "upcoming": upcoming,
                "recent": [RunOut.model_validate(dict(r._mapping)) for r in runs or []],
            }
        )


@router.post(
    "/recurring",
    status_code=201,
    summary="A recurring post from a template and an RRULE, in each community's wall clock",
    responses={
        **NOT_FOUND,
        422: {"description": "A bad RRULE, a tenant-wide audience, or a community without zone"},
    },
)
async def create_recurring(
    body: RecurringIn, sessions: Sessions, principal: Editor
) -> RecurringOut:
    now = utcnow()
    async with transaction(sessions) as session:
        row = await service.create(session, principal, body.post, body.rule, body.start, now)
    return RecurringOut.of(row, now)


@router.get("/recurring", summary="Recurring posts, newest first")
async def list_recurring(
    sessions: Sessions, principal: Reader, cursor: Cursor = None, limit: Limit = 50
) -> Page[RecurringOut]:
    after, now = keyset_after(cursor), utcnow()
    async with read_only(sessions) as session:
        rows = await service.page(session, principal, after, limit + 1)
    items = [RecurringOut.of(row, now) for row in rows[:limit]]
    return Page[RecurringOut](items=items, next_cursor=next_cursor(rows, limit))


@router.get(
    "/recurring/{recurring_id}",
    summary="One recurring post, its next occurrences and those that went out",
    responses=NOT_FOUND,
)
async def get_recurring(
    recurring_id: RecurringId, sessions: Sessions, principal: Reader
) -> RecurringOut:
    async with read_only(sessions) as session:
        row = await service.get(session, principal, recurring_id)
        runs = await service.runs(session, row.id)
    return RecurringOut.of(row, utcnow(), runs)


@router.post(
    "/recurring/{recurring_id}/stop",
    summary="Stop a recurring post: no further occurrence goes out",
    responses={**NOT_FOUND, 409: {"description": "Already stopped"}},
)
async def stop_recurring(
    recurring_id: RecurringId, sessions: Sessions, principal: Editor
) -> RecurringOut:
    now = utcnow()
    async with transaction(sessions) as session:
        row = await service.stop(session, principal, recurring_id, now)
    return RecurringOut.of(row, now)
