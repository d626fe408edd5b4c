"""Review (审核): the queue, decisions one by one or in bulk, and each community's
auto-approve level."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from content.access import Anyone, Reader, Sessions, Setter, Writer, is_member
from content.audience.repository import AudienceRepository
from content.audience.service import require_communities
from content.engagement.schemas import CommentOut
from content.posts.schemas import Id, PostOut, Reason
from content.review import service
from content.review.domain import Decision, moderates
from content.review.repository import ReviewRepository
from servicekit.auth import Principal
from servicekit.db import read_only, transaction
from servicekit.pagination import Cursor, Limit, Page, keyset_after, next_cursor
from servicekit.problems import Problem, problem_responses
from servicekit.text import Body, Line
from servicekit.types import utcnow

router = APIRouter(prefix="/v1/content", tags=["content: review"])

ItemId = Annotated[Line, Path(max_length=36)]
CommunityId = Annotated[Line, Path(max_length=200)]
CommunityFilter = Annotated[Line | None, Query(max_length=200)]
DECIDED = problem_responses(
    {
        403: "A member who does not moderate the item's community",
        404: "No such item for this tenant",
        409: "Not allowed from its review state (e.g. rejected is final)",
        422: "A rejection without a reason",
    }
)

UNKNOWN_COMMUNITY = problem_responses({404: "No such community for this tenant"})


class DecisionIn(Body):
    reason: Reason | None = Field(default=None, description="Why, for the author (optional)")


class RejectionIn(Body):
    reason: Reason = Field(description="Why, for the author: a rejection always says")


class BulkItemIn(Body):
    target: service.Target
    id: Id
    decision: Annotated[Decision, Field(description="approve or reject")]
    reason: Reason | None = None


class BulkIn(Body):
    items: Annotated[list[BulkItemIn], Field(min_length=1, max_length=200)]


class BulkItemOut(BaseModel):
    target: str
    id: str
    ok: bool
    review_state: str | None
    error: str | None = Field(description="The problem type slug when not decided")
    detail: str | None


class BulkOut(BaseModel):
    decided: int
    refused: int
    items: list[BulkItemOut]


class SettingsIn(Body):
    auto_approve_level: Annotated[int | None, Field(ge=1, le=1000)] = Field(
        description="Members at this level or above publish without review; null: review all"
    )


class SettingsOut(BaseModel):
    community_id: str
    auto_approve_level: int | None
    updated_at: datetime | None


async def _queue_scope(session: AsyncSession, principal: Principal, community: str | None) -> None:
    """Members see the queue of a community they moderate, and only with its id."""
    if not is_member(principal):
        return
    roles = await AudienceRepository(session).roles(principal.tenant_id, principal.subject)
    if not moderates(roles, community):
        raise Problem(
            403,
            "not-a-moderator",
            "Not a moderator",
            "pass community_id of a community you moderate",
        )


QUEUE = problem_responses({403: "A member who does not moderate community_id"})


@router.get("/review/posts", summary="Held posts, oldest first", responses=QUEUE)
async def held_posts(
    sessions: Sessions,
    principal: Anyone,
    community_id: CommunityFilter = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[PostOut]:
    after = keyset_after(cursor)
    async with read_only(sessions) as session:
        await _queue_scope(session, principal, community_id)
        rows = await ReviewRepository(session).pending_posts(
            principal.tenant_id, community_id, after, limit + 1
        )
    items = [PostOut.of(row) for row in rows[:limit]]
    return Page[PostOut](items=items, next_cursor=next_cursor(rows, limit))


@router.get("/review/comments", summary="Held comments, oldest first", responses=QUEUE)
async def held_comments(
    sessions: Sessions,
    principal: Anyone,
    community_id: CommunityFilter = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[CommentOut]:
    after = keyset_after(cursor)
    async with read_only(sessions) as session:
        await _queue_scope(session, principal, community_id)
        rows = await ReviewRepository(session).pending_comments(
            principal.tenant_id, community_id, after, limit + 1
        )
    items = [CommentOut.of(row) for row in rows[:limit]]
    return Page[CommentOut](items=items, next_cursor=next_cursor(rows, limit))


async def _decide_post(
    post_id: str,
    decision: Decision,
    body: DecisionIn | RejectionIn,
    sessions: Sessions,
    principal: Writer,
) -> PostOut:
    async with transaction(sessions) as session:
        post = await service.decide_post(
            session, principal, post_id, decision, body.reason, utcnow()
        )
    return PostOut.of(post)


@router.post("/review/posts/{post_id}/approve", summary="Approve a held post", responses=DECIDED)
async def approve_post(
    post_id: ItemId, body: DecisionIn, sessions: Sessions, principal: Writer
) -> PostOut:
    return await _decide_post(post_id, Decision.APPROVE, body, sessions, principal)


@router.post(
    "/review/posts/{post_id}/reject",
    summary="Reject a post, held or published, with a reason",
    responses=DECIDED,
)
async def reject_post(
    post_id: ItemId, body: RejectionIn, sessions: Sessions, principal: Writer
) -> PostOut:
    return await _decide_post(post_id, Decision.REJECT, body, sessions, principal)


async def _decide_comment(
    comment_id: str,
    decision: Decision,
    body: DecisionIn | RejectionIn,
    sessions: Sessions,
    principal: Writer,
) -> CommentOut:
    async with transaction(sessions) as session:
        row = await service.decide_comment(
            session, principal, comment_id, decision, body.reason, utcnow()
        )
    return CommentOut.of(row)


@router.post(
    "/review/comments/{comment_id}/approve", summary="Approve a held comment", responses=DECIDED
)
async def approve_comment(
    comment_id: ItemId, body: DecisionIn, sessions: Sessions, principal: Writer
) -> CommentOut:
    return await _decide_comment(comment_id, Decision.APPROVE, body, sessions, principal)


@router.post(
    "/review/comments/{comment_id}/reject",
    summary="Reject a comment, held or published, with a reason",
    responses=DECIDED,
)
async def reject_comment(
    comment_id: ItemId, body: RejectionIn, sessions: Sessions, principal: Writer
) -> CommentOut:
    return await _decide_comment(comment_id, Decision.REJECT, body, sessions, principal)


@router.post(
    "/review/decisions",
    summary="Decide many posts and comments at once; each item is decided or refused alone",
)
async def decide_many(body: BulkIn, sessions: Sessions, principal: Writer) -> BulkOut:
    items = [service.Item(item.target, item.id, item.decision, item.reason) for item in body.items]
    async with transaction(sessions) as session:
        outcomes = await service.decide_many(session, principal, items, utcnow())
    out = [
        BulkItemOut(
            target=o.item.target.value,
            id=o.item.id,
            ok=o.problem is None,
            review_state=o.state,
            error=o.problem.slug if o.problem else None,
            detail=o.problem.detail if o.problem else None,
        )
        for o in outcomes
    ]
    decided = sum(item.ok for item in out)
    return BulkOut(decided=decided, refused=len(out) - decided, items=out)


@router.get("/communities/{community_id}/settings", summary="A community's review settings")
async def get_settings(
    community_id: CommunityId, sessions: Sessions, principal: Reader
) -> SettingsOut:
    async with read_only(sessions) as session:
        await require_communities(session, principal.tenant_id, [community_id])
        row = await ReviewRepository(session).settings(principal.tenant_id, community_id)
    if row is None:
        return SettingsOut(community_id=community_id, auto_approve_level=None, updated_at=None)
    return SettingsOut(
        community_id=community_id,
        auto_approve_level=row.auto_approve_level,
        updated_at=row.updated_at,
    )


@router.put("/communities/{community_id}/settings", summary="Set a community's auto-approve level")
async def put_settings(
    community_id: CommunityId, body: SettingsIn, sessions: Sessions, principal: Setter
) -> SettingsOut:
    now = utcnow()
    async with transaction(sessions) as session:
        await require_communities(session, principal.tenant_id, [community_id])
        await ReviewRepository(session).save_settings(
            principal.tenant_id, community_id, body.auto_approve_level, now
        )
    return SettingsOut(
        community_id=community_id, auto_approve_level=body.auto_approve_level, updated_at=now
    )
