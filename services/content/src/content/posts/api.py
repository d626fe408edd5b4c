"""Posts: write, edit, delete (soft), edit history, live updates (图文直播)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from content.access import Anyone, Sessions, Writer, is_member
from content.moderation import service as moderation
from content.moderation.api import SCREENED
from content.posts import service
from content.posts.repository import PostRepository
from content.posts.schemas import (
    DeleteIn,
    LiveUpdateOut,
    PostIn,
    PostOut,
    PostPatch,
    RevisionOut,
    UpdateIn,
)
from servicekit.db import read_only, transaction
from servicekit.problems import not_found, problem_responses
from servicekit.text import Line
from servicekit.types import utcnow

router = APIRouter(prefix="/v1/content", tags=["content: posts"])

PostId = Annotated[Line, Path(max_length=36)]
NOT_FOUND = problem_responses({404: "No such post for this tenant"})
REFUSED = problem_responses({403: "Not allowed (not a member, muted, banned, role)"})
INVALID = problem_responses(
    {422: "Content that breaks a rule of its kind, or an auto-moderation rule blocks"}
)


@router.post(
    "/posts",
    status_code=201,
    summary="Write a post: operators to any audience, members into a community they sit in",
    responses={
        **REFUSED,
        **INVALID,
        **SCREENED,
        404: {"description": "A community not of this tenant"},
    },
)
async def create_post(body: PostIn, sessions: Sessions, principal: Writer) -> PostOut:
    async with moderation.screened(sessions) as session:
        post = await service.create(session, principal, body.draft(), utcnow())
    return PostOut.of(post)


@router.patch(
    "/posts/{post_id}",
    summary="Edit a post (its author or an editor); the previous version is kept",
    responses={**NOT_FOUND, **INVALID, **SCREENED, 409: {"description": "Deleted or rejected"}},
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
    async with moderation.screened(sessions) as session:
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
    summary="Edit history, newest first: for its author and operators",
    responses=NOT_FOUND,
)
async def revisions(post_id: PostId, sessions: Sessions, principal: Anyone) -> list[RevisionOut]:
    async with read_only(sessions) as session:
        post = await service.readable(session, principal, post_id)
        if is_member(principal) and not service.is_author(principal, post):
            raise not_found("post")  # earlier versions may hold what an edit took out
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
