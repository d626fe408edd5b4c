"""Engagement: comments, likes, bookmarks, share links, recommendations (推荐)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field

from content.access import Anyone, Editor, Member, Sessions, Writer, is_member
from content.engagement import service
from content.engagement.repository import EngagementRepository
from content.engagement.schemas import CommentOut
from content.moderation import service as moderation
from content.moderation.api import SCREENED
from content.posts import service as posts
from content.posts.schemas import Id, PostBody, PostOut
from servicekit.db import read_only, transaction
from servicekit.pagination import Cursor, Limit, Page, keyset_after, next_cursor
from servicekit.problems import problem_responses
from servicekit.text import Body, Line
from servicekit.types import utcnow

router = APIRouter(prefix="/v1/content", tags=["content: engagement"])

PostId = Annotated[Line, Path(max_length=36)]
NOT_FOUND = problem_responses({404: "No such post (or comment) you may see"})
UNPUBLISHED = problem_responses({409: "The post is still in review"})


class CommentIn(Body):
    body: Annotated[PostBody, Field(min_length=1, max_length=5000)]
    parent_id: Id | None = Field(default=None, description="Reply to this top-level comment")


class ShareOut(BaseModel):
    token: str
    post_id: str
    sharer_id: str
    created_at: datetime


class RecommendationOut(BaseModel):
    post_id: str
    recommended_by: str
    created_at: datetime


@router.post(
    "/posts/{post_id}/comments",
    status_code=201,
    summary="Comment (or reply to a top-level comment); members' comments may be reviewed",
    responses={
        **NOT_FOUND,
        **UNPUBLISHED,
        **SCREENED,
        403: {"description": "Muted, banned or no seat"},
        422: {"description": "Reply to a reply, or blocked by an auto-moderation rule"},
    },
)
async def add_comment(
    post_id: PostId, body: CommentIn, sessions: Sessions, principal: Writer
) -> CommentOut:
    async with moderation.screened(sessions) as session:
        row = await service.comment(
            session, principal, post_id, body.body, body.parent_id, utcnow()
        )
    return CommentOut.of(row)


@router.get(
    "/posts/{post_id}/comments",
    summary="A post's comments, oldest first (a member also sees their own held ones)",
    responses=NOT_FOUND,
)
async def list_comments(
    post_id: PostId,
    sessions: Sessions,
    principal: Anyone,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[CommentOut]:
    after = keyset_after(cursor)
    async with read_only(sessions) as session:
        post = await posts.readable(session, principal, post_id)
        viewer = principal.subject if is_member(principal) else None
        rows = await EngagementRepository(session).comments(post.id, viewer, after, limit + 1)
    items = [CommentOut.of(row) for row in rows[:limit]]
    return Page[CommentOut](items=items, next_cursor=next_cursor(rows, limit))


async def _mark(
    post_id: str, kind: str, on: bool, sessions: Sessions, principal: Member
) -> PostOut:
    async with transaction(sessions) as session:
        post = await service.set_mark(session, principal, post_id, kind, on, utcnow())
    return PostOut.of(post)


RESPONSES = {**NOT_FOUND, **UNPUBLISHED}


@router.put("/posts/{post_id}/like", summary="Like (again: no change)", responses=RESPONSES)
async def like(post_id: PostId, sessions: Sessions, principal: Member) -> PostOut:
    return await _mark(post_id, "like", True, sessions, principal)


@router.delete("/posts/{post_id}/like", summary="Take a like back", responses=RESPONSES)
async def unlike(post_id: PostId, sessions: Sessions, principal: Member) -> PostOut:
    return await _mark(post_id, "like", False, sessions, principal)


@router.put("/posts/{post_id}/bookmark", summary="Bookmark (收藏)", responses=RESPONSES)
async def bookmark(post_id: PostId, sessions: Sessions, principal: Member) -> PostOut:
    return await _mark(post_id, "bookmark", True, sessions, principal)


@router.delete("/posts/{post_id}/bookmark", summary="Remove a bookmark", responses=RESPONSES)
async def unbookmark(post_id: PostId, sessions: Sessions, principal: Member) -> PostOut:
    return await _mark(post_id, "bookmark", False, sessions, principal)


@router.post(
    "/posts/{post_id}/shares",
    summary="My share link for the post (201 when made now, 200 when it existed)",
    status_code=201,
    responses={**RESPONSES, 200: {"description": "The link made earlier", "model": ShareOut}},
)
async def share(
    post_id: PostId, sessions: Sessions, principal: Member, response: Response
) -> ShareOut:
    async with transaction(sessions) as session:
        row, created = await service.share(session, principal, post_id, utcnow())
    if not created:
        response.status_code = 200
    return ShareOut.model_validate(dict(row._mapping))


@router.post(
    "/posts/{post_id}/recommend",
    summary="Recommend a published post (推荐): once; 201 now, 200 when it was before",
    status_code=201,
    responses={
        **NOT_FOUND,
        **UNPUBLISHED,
        200: {"description": "Recommended before", "model": RecommendationOut},
    },
)
async def recommend(
    post_id: PostId, sessions: Sessions, principal: Editor, response: Response
) -> RecommendationOut:
    async with transaction(sessions) as session:
        row, created = await service.recommend(session, principal, post_id, utcnow())
    if not created:
        response.status_code = 200
    return RecommendationOut.model_validate(dict(row._mapping))
