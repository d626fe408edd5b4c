"""The daily digest (日报) of a community: its local time, and a preview of any day."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from content.access import Editor, Reader, Sessions, Setter
from content.digest import service
from content.posts.schemas import PostBody
from servicekit.db import read_only, transaction
from servicekit.problems import problem_responses
from servicekit.text import Body, Line
from servicekit.types import utcnow

router = APIRouter(prefix="/v1/content", tags=["content: daily digest"])

CommunityId = Annotated[Line, Path(min_length=1, max_length=200)]
ERRORS = problem_responses(
    {
        404: "No such community in this tenant",
        422: "The community has no known time zone",
    }
)


class DigestSettingsIn(Body):
    local_time: time = Field(description="When it goes out, the community's wall clock (HH:MM)")
    enabled: bool = True


class DigestSettingsOut(BaseModel):
    community_id: str
    local_time: str
    enabled: bool
    updated_by: str
    updated_at: datetime


class PickedOut(BaseModel):
    post_id: str
    headline: str
    score: int
    likes: int
    comments: int
    shares: int
    recommended: bool


class PreviewOut(BaseModel):
    community_id: str
    day: date
    title: str
    body: str = Field(description="Markdown: the day's top posts, best first")
    posts: list[PickedOut]
    edited: bool = Field(description="An operator's text replaces the compiled one")
    published: bool = Field(description="That day's digest went out")


class DigestEditIn(Body):
    title: Annotated[Line, Field(min_length=1, max_length=200)]
    body: Annotated[PostBody, Field(min_length=1)]


@router.put(
    "/communities/{community_id}/digest",
    summary="Set when the community's daily digest goes out (or switch it off)",
    responses=ERRORS,
)
async def set_digest(
    community_id: CommunityId, body: DigestSettingsIn, sessions: Sessions, principal: Setter
) -> DigestSettingsOut:
    at = body.local_time.replace(second=0, microsecond=0, tzinfo=None)
    async with transaction(sessions) as session:
        row = await service.configure(session, principal, community_id, at, body.enabled, utcnow())
    return DigestSettingsOut.model_validate(dict(row._mapping))


@router.get(
    "/communities/{community_id}/digest/preview",
    summary="The digest as it would be compiled now for a local day (today by default)",
    responses=ERRORS,
)
async def preview_digest(
    community_id: CommunityId,
    sessions: Sessions,
    principal: Reader,
    day: Annotated[date | None, Query(description="The community's local day")] = None,
) -> PreviewOut:
    async with read_only(sessions) as session:
        found = await service.preview(session, principal.tenant_id, community_id, day, utcnow())
    return _out(found)


@router.put(
    "/communities/{community_id}/digest/{day}",
    summary="Edit a day's digest before it goes out (its text replaces the compiled one)",
    responses={**ERRORS, 409: {"description": "That day's digest went out"}},
)
async def edit_digest(
    community_id: CommunityId,
    day: Annotated[date, Path(description="The community's local day")],
    body: DigestEditIn,
    sessions: Sessions,
    principal: Editor,
) -> PreviewOut:
    async with transaction(sessions) as session:
        found = await service.edit(
            session, principal, community_id, day, body.title, body.body, utcnow()
        )
    return _out(found)


def _out(found: service.Preview) -> PreviewOut:
    picked = [
        PickedOut(
            post_id=c.post_id,
            headline=c.headline(),
            score=c.score,
            likes=c.likes,
            comments=c.comments,
            shares=c.shares,
            recommended=c.recommended,
        )
        for c in found.picked
    ]
    return PreviewOut(
        community_id=found.community_id,
        day=found.day,
        title=found.title,
        body=found.body,
        posts=picked,
        edited=found.edited,
        published=found.published,
    )
