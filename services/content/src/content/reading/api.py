"""Reading: a post with its comments, a community's posts, a member's feed and own posts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Path

from content.access import Anyone, Member, Sessions, is_member
from content.audience.domain import SEATED, TENANT_WIDE, Viewer
from content.audience.repository import AudienceRepository
from content.audience.service import require_communities
from content.engagement.repository import EngagementRepository
from content.engagement.schemas import CommentOut
from content.posts import service as posts
from content.posts.repository import After, PostRepository, Row
from content.posts.schemas import LiveUpdateOut, PostOut
from content.reading import service
from content.reading.schemas import PostDetailOut
from content.review.domain import ReviewState
from servicekit.db import read_only
from servicekit.pagination import Cursor, Limit, Page, encode_cursor, keyset_after, next_cursor
from servicekit.problems import Problem, problem_responses
from servicekit.text import Line

router = APIRouter(prefix="/v1/content", tags=["content: reading"])

PostId = Annotated[Line, Path(max_length=36)]
CommunityId = Annotated[Line, Path(max_length=200)]
NOT_FOUND = problem_responses({404: "No such post you may see, for this tenant"})
FIRST_COMMENTS = 20


def _page(rows: Sequence[Row], limit: int) -> Page[PostOut]:
    items = [PostOut.of(row) for row in rows[:limit]]
    return Page[PostOut](items=items, next_cursor=next_cursor(rows, limit))


def _visible(page: service.VisiblePage) -> Page[PostOut]:
    resume = page.resume_after
    cursor = None if resume is None else encode_cursor([resume[0].isoformat(), resume[1]])
    return Page[PostOut](items=[PostOut.of(row) for row in page.items], next_cursor=cursor)


@router.get(
    "/posts/{post_id}",
    summary="A post as a reader opens it: its first comments, live updates and my marks",
    responses=NOT_FOUND,
)
async def get_post(post_id: PostId, sessions: Sessions, principal: Anyone) -> PostDetailOut:
    async with read_only(sessions) as session:
        post = await posts.readable(session, principal, post_id)
        engagement = EngagementRepository(session)
        reader = principal.subject if is_member(principal) else None
        comments = await engagement.comments(post.id, reader, None, FIRST_COMMENTS + 1)
        updates = await PostRepository(session).updates(post.id) if post.kind == "live" else []
        marks = await engagement.marked(post.id, reader) if reader else set()
    return PostDetailOut(
        **PostOut.of(post).model_dump(),
        comments=Page[CommentOut](
            items=[CommentOut.of(row) for row in comments[:FIRST_COMMENTS]],
            next_cursor=next_cursor(comments, FIRST_COMMENTS),
        ),
        updates=[LiveUpdateOut.model_validate(dict(row._mapping)) for row in updates],
        liked="like" in marks,
        bookmarked="bookmark" in marks,
    )


@router.get(
    "/communities/{community_id}/posts",
    summary="A community's posts, newest first (members: the ones their audience allows)",
    responses={
        403: {"description": "A member with no seat in the community"},
        404: {"description": "No such community for this tenant"},
    },
)
async def community_posts(
    community_id: CommunityId,
    sessions: Sessions,
    principal: Anyone,
    cursor: Cursor = None,
    limit: Limit = 20,
    pinned: bool | None = None,
    review_state: ReviewState | None = None,
) -> Page[PostOut]:
    after = keyset_after(cursor)
    async with read_only(sessions) as session:
        await require_communities(session, principal.tenant_id, [community_id])
        repo = PostRepository(session)
        scope = [community_id, TENANT_WIDE]
        if not is_member(principal):
            rows = await repo.in_communities(
                principal.tenant_id,
                scope,
                after,
                limit + 1,
                review_state=review_state,
                pinned=pinned,
            )
            return _page(rows, limit)
        viewer = await AudienceRepository(session).viewer(principal.tenant_id, principal.subject)
        seats = [s for s in viewer.seats if s.community_id == community_id]
        if not any(seat.status in SEATED for seat in seats):
            raise Problem(403, "not-a-member", "Not a member", "you have no seat in it")
        # Only this community's seat counts here: a post is listed where the reader sits.
        local = Viewer(viewer.member_id, tuple(seats), viewer.level)

        async def fetch(start: After, size: int) -> Sequence[Row]:
            return await repo.in_communities(principal.tenant_id, scope, start, size, pinned=pinned)

        found = await service.visible_page(fetch, local, after, limit)
    return _visible(found)


@router.get(
    "/feed",
    summary="The posts a member may see across their communities, newest first",
)
async def feed(
    sessions: Sessions, principal: Member, cursor: Cursor = None, limit: Limit = 20
) -> Page[PostOut]:
    after = keyset_after(cursor)
    async with read_only(sessions) as session:
        viewer = await AudienceRepository(session).viewer(principal.tenant_id, principal.subject)
        seated = {seat.community_id for seat in viewer.seats if seat.status in SEATED}
        if not seated:  # no seat anywhere: nothing to read, nothing to scan
            return Page[PostOut](items=[], next_cursor=None)
        scope = sorted(seated | {TENANT_WIDE})
        repo = PostRepository(session)

        async def fetch(start: After, size: int) -> Sequence[Row]:
            return await repo.in_communities(principal.tenant_id, scope, start, size)

        found = await service.visible_page(fetch, viewer, after, limit)
    return _visible(found)


@router.get("/me/posts", summary="A member's own posts, in any review state, newest first")
async def my_posts(
    sessions: Sessions, principal: Member, cursor: Cursor = None, limit: Limit = 20
) -> Page[PostOut]:
    after = keyset_after(cursor)
    async with read_only(sessions) as session:
        rows = await PostRepository(session).by_author(
            principal.tenant_id, principal.subject, after, limit + 1
        )
    return _page(rows, limit)
