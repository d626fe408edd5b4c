"""Knowledge base: search that works for Chinese, 精华, collections and tags."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from content.access import Anyone, Editor, Sessions
from content.knowledge import service
from content.knowledge.schemas import (
    CollectionDetailOut,
    CollectionIn,
    CollectionOut,
    FeaturedPostOut,
    FeatureIn,
    FeatureOut,
    SearchHitOut,
    SearchOut,
    TagOut,
)
from content.posts.schemas import PostOut
from servicekit.db import read_only, transaction
from servicekit.pagination import Cursor, Limit, Page, encode_cursor, keyset_after
from servicekit.problems import problem_responses
from servicekit.text import Line
from servicekit.types import utcnow

router = APIRouter(prefix="/v1/content", tags=["content: knowledge base"])

PostId = Annotated[Line, Path(max_length=36)]
CollectionId = Annotated[Line, Path(max_length=36)]
CommunityId = Annotated[Line, Path(max_length=200)]
NOT_FOUND = problem_responses({404: "No such post, collection or community"})
NOT_SEATED = problem_responses({403: "A member with no seat in the community"})


@router.get(
    "/search",
    summary="Search published posts the caller may see: Chinese one- and two-character "
    "queries work; best first, with a highlighted snippet",
    responses={**NOT_FOUND, **NOT_SEATED, 422: {"description": "No letters or digits"}},
)
async def search(
    sessions: Sessions,
    principal: Anyone,
    q: Annotated[Line, Query(min_length=1, max_length=200, description="Words or characters")],
    community_id: Annotated[Line | None, Query(max_length=200)] = None,
    tag: Annotated[Line | None, Query(max_length=32)] = None,
    featured: Annotated[bool, Query(description="Only 精华")] = False,
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> SearchOut:
    async with read_only(sessions) as session:
        hits = await service.search(
            session,
            principal,
            q,
            community_id=community_id,
            tag=tag,
            featured_only=featured,
            limit=limit,
        )
    return SearchOut(items=[SearchHitOut.of(hit) for hit in hits])


@router.put(
    "/posts/{post_id}/featured",
    summary="Mark a published post 精华 (again: the first mark stays)",
    responses={**NOT_FOUND, 409: {"description": "Not published"}},
)
async def feature(
    post_id: PostId, body: FeatureIn, sessions: Sessions, principal: Editor
) -> FeatureOut:
    async with transaction(sessions) as session:
        mark = await service.feature(session, principal, post_id, body.note, utcnow())
    return FeatureOut.model_validate(dict(mark._mapping))


@router.delete(
    "/posts/{post_id}/featured",
    status_code=204,
    summary="Withdraw a post's 精华 mark (nothing to withdraw: 204 as well)",
    responses=NOT_FOUND,
)
async def unfeature(post_id: PostId, sessions: Sessions, principal: Editor) -> Response:
    async with transaction(sessions) as session:
        await service.unfeature(session, principal, post_id, utcnow())
    return Response(status_code=204)


@router.get(
    "/communities/{community_id}/featured",
    summary="A community's 精华 the caller may see, the most recently featured first",
    responses={**NOT_FOUND, **NOT_SEATED},
)
async def featured(
    community_id: CommunityId,
    sessions: Sessions,
    principal: Anyone,
    cursor: Cursor = None,
    limit: Limit = 20,
) -> Page[FeaturedPostOut]:
    async with read_only(sessions) as session:
        rows, resume = await service.featured(
            session, principal, community_id, keyset_after(cursor), limit
        )
    items = [FeaturedPostOut(**PostOut.of(r).model_dump(), featured_at=r.featured_at) for r in rows]
    token = None if resume is None else encode_cursor([resume[0].isoformat(), resume[1]])
    return Page[FeaturedPostOut](items=items, next_cursor=token)


@router.get(
    "/communities/{community_id}/tags",
    summary="A community's tags, most used first",
    responses={**NOT_FOUND, **NOT_SEATED},
)
async def tags(community_id: CommunityId, sessions: Sessions, principal: Anyone) -> list[TagOut]:
    async with read_only(sessions) as session:
        counts = await service.tags(session, principal, community_id)
    return [TagOut(tag=tag, count=count) for tag, count in counts]


@router.post(
    "/communities/{community_id}/collections",
    status_code=201,
    summary="Start a collection (专题) of a community's posts",
    responses={**NOT_FOUND, 409: {"description": "The community has one of that name"}},
)
async def create_collection(
    community_id: CommunityId, body: CollectionIn, sessions: Sessions, principal: Editor
) -> CollectionOut:
    async with transaction(sessions) as session:
        row = await service.create_collection(
            session, principal, community_id, body.name, body.description, utcnow()
        )
    return CollectionOut.model_validate(dict(row._mapping))


@router.get(
    "/communities/{community_id}/collections",
    summary="A community's collections, oldest first, with how many posts each holds",
    responses={**NOT_FOUND, **NOT_SEATED},
)
async def list_collections(
    community_id: CommunityId, sessions: Sessions, principal: Anyone
) -> list[CollectionOut]:
    async with read_only(sessions) as session:
        rows = await service.collections_of(session, principal, community_id)
    return [CollectionOut.model_validate(dict(row._mapping)) for row in rows]


@router.get(
    "/collections/{collection_id}",
    summary="A collection with its posts the caller may see, in the order they were added",
    responses=NOT_FOUND,
)
async def get_collection(
    collection_id: CollectionId, sessions: Sessions, principal: Anyone
) -> CollectionDetailOut:
    async with read_only(sessions) as session:
        row, posts = await service.collection(session, principal, collection_id, 200)
    return CollectionDetailOut(
        **CollectionOut.model_validate(dict(row._mapping)).model_dump(exclude={"post_count"}),
        post_count=len(posts),
        posts=[PostOut.of(post) for post in posts],
    )


@router.put(
    "/collections/{collection_id}/posts/{post_id}",
    summary="Add a published post of the collection's community (201 added, 200 was there)",
    responses={
        **NOT_FOUND,
        409: {"description": "Not published"},
        422: {"description": "Not published in the collection's community"},
    },
)
async def add_post(
    collection_id: CollectionId,
    post_id: PostId,
    sessions: Sessions,
    principal: Editor,
    response: Response,
) -> dict[str, bool]:
    async with transaction(sessions) as session:
        added = await service.add_to_collection(
            session, principal, collection_id, post_id, utcnow()
        )
    response.status_code = 201 if added else 200
    return {"added": added}


@router.delete(
    "/collections/{collection_id}/posts/{post_id}",
    status_code=204,
    summary="Take a post out of a collection",
    responses=NOT_FOUND,
)
async def remove_post(
    collection_id: CollectionId, post_id: PostId, sessions: Sessions, principal: Editor
) -> Response:
    async with transaction(sessions) as session:
        await service.remove_from_collection(session, principal, collection_id, post_id)
    return Response(status_code=204)
