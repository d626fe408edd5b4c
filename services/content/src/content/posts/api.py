"""Posts: write, edit, delete, live updates; read one, a community's, a member's feed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Path

from content.access import Anyone, Member, Responses, Sessions, Writer, is_member
from content.audience.domain import TENANT_WIDE, Viewer
from content.audience.repository import AudienceRepository
from content.audience.service import require_communities
from content.posts import service
from content.posts.repository import After, PostRepository, Row
from content.posts.schemas import (
    DeleteIn,
    LiveUpdateOut,
    PostIn,
    PostOut,
    PostPatch,
    RevisionOut,
    UpdateIn,
)
from content.review.domain import ReviewState
from servicekit.db import read_only, transaction
from servicekit.pagination import Cursor, Limit, Page, keyset_after, next_cursor
from servicekit.problems import Problem
from servicekit.text import Line
from servicekit.types import utcnow

router = APIRouter(prefix="/v1/content", tags=["content: posts"])

PostId = Annotated[Line, Path(max_length=36)]
CommunityId = Annotated[Line, Path(max_length=200)]
NOT_FOUND: Responses = {404: {"description": "No such post for this tenant"}}
REFUSED: Responses = {403: {"description": "Not allowed (not a member, muted, banned, role)"}}
INVALID: Responses = {422: {"description": "Content that breaks a rule of its kind"}}


def _page(rows: Sequence[Row], limit: int) -> Page[PostOut]:
    items = [PostOut.of(row) for row in rows[:limit]]
    return Page[PostOut](items=items, next_cursor=next_cursor(rows, limit))


@router.post(
    "/posts",
    status_code=201,
    summary="Write a post: operators to any audience, members into a community they sit in",
    responses={**REFUSED, **INVALID, 404: {"description": "A community not of this tenant"}},
)
async def create_post(body: PostIn, sessions: Sessions, principal: Writer) -> PostOut:
    draft = service.Draft(
        kind=body.kind,
        title=body.title,
        body=body.body,
        media=tuple(item.value() for item in body.media),
        link=body.link.value() if body.link else None,
        audience=body.audience.value(),
        tags=tuple(dict.fromkeys(body.tags)),
        pinned=body.pinned,
    )
    async with transaction(sessions) as session:
        post = await service.create(session, principal, draft, utcnow())
    return PostOut.of(post)


@router.get("/posts/{post_id}", summary="One post, if you may see it", responses=NOT_FOUND)
async def get_post(post_id: PostId, sessions: Sessions, principal: Anyone) -> PostOut:
    async with read_only(sessions) as session:
        post = await service.readable(session, principal, post_id)
    return PostOut.of(post)


@router.patch(
    "/posts/{post_id}",
    summary="Edit a post (its author or an editor); the previous version is kept",
    responses={**NOT_FOUND, **INVALID, 409: {"description": "Deleted or rejected"}},
)
async def edit_post(
    post_id: PostId, body: PostPatch, sessions: Sessions, principal: Writer
) -> PostOut:
    patch = service.Patch(
        title=body.title,
        body=body.body,
        media=tuple(item.value() for item in body.media) if body.media is not None else None,
        link=body.link.value() if body.link else None,
        tags=tuple(dict.fromkeys(body.tags)) if body.tags is not None else None,
        pinned=body.pinned,
    )
    async with transaction(sessions) as session:
        post = await service.edit(session, principal, post_id, patch, utcnow())
    return PostOut.of(post)


@router.post(
    "/posts/{post_id}/delete",
    summary="Delete a post (soft, with a reason): its author or an editor",
    responses={**NOT_FOUND, 409: {"description": "Already deleted"}},
)
async def delete_post(
    post_id: PostId, body: DeleteIn, sessions: Sessions, principal: Writer
) -> PostOut:
    async with transaction(sessions) as session:
        post = await service.delete(session, principal, post_id, body.reason, utcnow())
    return PostOut.of(post)


@router.get(
    "/posts/{post_id}/revisions",
    summary="Edit history, newest first",
    responses=NOT_FOUND,
)
async def revisions(post_id: PostId, sessions: Sessions, principal: Anyone) -> list[RevisionOut]:
    async with read_only(sessions) as session:
        post = await service.readable(session, principal, post_id)
        rows = await PostRepository(session).revisions(post.id)
    return [RevisionOut.model_validate(dict(row._mapping)) for row in rows]


@router.post(
    "/posts/{post_id}/updates",
    status_code=201,
    summary="Append a timed update to a live post (图文直播)",
    responses={**NOT_FOUND, **INVALID, 409: {"description": "Not a live post"}},
)
async def add_update(
    post_id: PostId, body: UpdateIn, sessions: Sessions, principal: Writer
) -> list[LiveUpdateOut]:
    media = tuple(item.value() for item in body.media)
    async with transaction(sessions) as session:
        post = await service.append_update(session, principal, post_id, body.body, media, utcnow())
        rows = await PostRepository(session).updates(post.id)
    return [LiveUpdateOut.model_validate(dict(row._mapping)) for row in rows]


@router.get(
    "/posts/{post_id}/updates",
    summary="A live post's updates, oldest first",
    responses=NOT_FOUND,
)
async def list_updates(
    post_id: PostId, sessions: Sessions, principal: Anyone
) -> list[LiveUpdateOut]:
    async with read_only(sessions) as session:
        post = await service.readable(session, principal, post_id)
        rows = await PostRepository(session).updates(post.id)
    return [LiveUpdateOut.model_validate(dict(row._mapping)) for row in rows]


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
        if not any(seat.status == "active" for seat in seats):
            raise Problem(403, "not-a-member", "Not a member", "you have no seat in it")
        # Only this community's seat counts here: a post is listed where the reader sits.
        local = Viewer(viewer.member_id, tuple(seats), viewer.level)

        async def fetch(start: After, size: int) -> Sequence[Row]:
            return await repo.in_communities(principal.tenant_id, scope, start, size, pinned=pinned)

        found = await service.visible_page(fetch, local, after, limit)
    return _page(found, limit)


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
        scope = sorted({seat.community_id for seat in viewer.seats} | {TENANT_WIDE})
        repo = PostRepository(session)

        async def fetch(start: After, size: int) -> Sequence[Row]:
            return await repo.in_communities(principal.tenant_id, scope, start, size)

        found = await service.visible_page(fetch, viewer, after, limit)
    return _page(found, limit)


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
