"""Use cases of the knowledge base: search, 精华 marking, collections and tags."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from content import events
from content.access import READERS, is_operator
from content.audience.domain import SEATED, TENANT_WIDE, Audience, Viewer, may_see
from content.audience.repository import AudienceRepository
from content.audience.service import require_communities
from content.knowledge import domain
from content.knowledge.repository import KnowledgeRepository, Row
from content.posts.repository import PostRepository
from content.posts.service import audience_of
from content.review.domain import ReviewState
from servicekit.auth import Principal
from servicekit.outbox import add_event
from servicekit.problems import Problem, not_found

CANDIDATES = 500  # newest matching posts a search ranks (see the README: a bound, on purpose)
TAGGED_SCAN = 5_000  # newest tagged posts a community's tag list counts


@dataclass(frozen=True)
class Hit:
    post: Row
    score: float
    snippet: domain.Snippet
    featured: bool


@dataclass(frozen=True)
class Reader:
    """Who reads, and where: ``scope`` None is every community (operators)."""

    viewer: Viewer | None  # None: an operator, who sees every published post
    scope: list[str] | None


async def reader(session: AsyncSession, principal: Principal, community_id: str | None) -> Reader:
    """The communities the caller may read in: operators everywhere (or the one asked),
    members where they sit; a member asking for a community they do not sit in is a 403."""
    if community_id is not None:
        await require_communities(session, principal.tenant_id, [community_id])
    if is_operator(principal, *READERS):
        return Reader(None, None if community_id is None else [community_id, TENANT_WIDE])
    viewer = await AudienceRepository(session).viewer(principal.tenant_id, principal.subject)
    seats = [
        s
        for s in viewer.seats
        if s.status in SEATED and (community_id is None or s.community_id == community_id)
    ]
    if community_id is not None and not seats:
        raise Problem(403, "not-a-member", "Not a member", "you have no seat in it")
    # Only the seats of the communities read count: a post is found where the reader sits.
    local = Viewer(viewer.member_id, tuple(seats), viewer.level)
    scope = sorted({s.community_id for s in seats} | {TENANT_WIDE}) if seats else []
    return Reader(local, scope)


def visible(reader_: Reader, audience: Audience) -> bool:
    return reader_.viewer is None or may_see(audience, reader_.viewer)


def bad_query(error: domain.BadQuery) -> Problem:
    return Problem(422, "bad-query", "Invalid search", str(error))


async def search(
    session: AsyncSession,
    principal: Principal,
    text: str,
    *,
    community_id: str | None,
    tag: str | None,
    featured_only: bool,
    limit: int,
) -> list[Hit]:
    """Published posts the caller may see that contain every term of ``text``, best first."""
    try:
        query = domain.parse(text)
    except domain.BadQuery as error:
        raise bad_query(error) from error
    who = await reader(session, principal, community_id)
    if who.scope == []:
        return []
    rows = await KnowledgeRepository(session).candidates(
        principal.tenant_id,
        query.grams,
        who.scope,
        tag=tag,
        featured_only=featured_only,
        limit=CANDIDATES,
    )
    seen = [row for row in rows if visible(who, audience_of(row))]
    found = [
        _hit(query, row)
        for row in seen
        if domain.matches(query, row.title or "", row.body, *row.tags)
    ]
    found.sort(key=lambda hit: (hit.score, hit.post.created_at, hit.post.id), reverse=True)
    return found[:limit]


def _hit(query: domain.Query, row: Row) -> Hit:
    title_hits = domain.hits(query, row.title or "")
    body_hits = domain.hits(query, row.body)
    featured = row.featured_at is not None
    score = domain.score(len(title_hits), len(body_hits), len(row.body), featured=featured)
    shown = domain.snippet(row.body, body_hits) if body_hits or not title_hits else None
    if shown is None:  # only the title (or a tag) matched: show the title marked
        shown = domain.snippet(row.title or "", title_hits)
    return Hit(row, score, shown, featured)


# --- 精华 --------------------------------------------------------------------------------


async def _published_post(session: AsyncSession, principal: Principal, post_id: str) -> Row:
    post = await PostRepository(session).post(principal.tenant_id, post_id, lock=True)
    if post is None or post.deleted_at is not None:
        raise not_found("post")
    return post


async def feature(
    session: AsyncSession, principal: Principal, post_id: str, note: str | None, now: datetime
) -> Row:
    """Mark a published post 精华; marking it again keeps the first mark (one event)."""
    post = await _published_post(session, principal, post_id)
    if post.review_state != ReviewState.APPROVED:
        raise Problem(409, "not-published", "Not published", "only published posts are featured")
    repo = KnowledgeRepository(session)
    values = {
        "post_id": post.id,
        "tenant_id": post.tenant_id,
        "note": note,
        "featured_by": principal.subject,
        "featured_at": now,
    }
    if await repo.feature(values):
        await add_event(session, events.post_featured(post, principal.subject, note, now))
    mark = await repo.featured_of(post.id)
    assert mark is not None
    return mark


async def unfeature(
    session: AsyncSession, principal: Principal, post_id: str, now: datetime
) -> None:
    post = await _published_post(session, principal, post_id)
    if await KnowledgeRepository(session).unfeature(post.id):
        await add_event(session, events.post_unfeatured(post, principal.subject, now))


async def featured(
    session: AsyncSession,
    principal: Principal,
    community_id: str,
    before: tuple[datetime, str] | None,
    limit: int,
) -> tuple[list[Row], tuple[datetime, str] | None]:
    """A community's 精华 the caller may see, the most recently featured first, and where
    the next page starts (None: the end)."""
    who = await reader(session, principal, community_id)
    repo = KnowledgeRepository(session)
    found: list[Row] = []
    batch = max(2 * limit, 50)
    for _ in range(20):  # as reading's pages: a bounded scan, a cursor when it runs out
        rows = await repo.featured(principal.tenant_id, who.scope or [], before, batch)
        for row in rows:
            if visible(who, audience_of(row)):
                found.append(row)
                if len(found) > limit:
                    last = found[limit - 1]
                    return found[:limit], (last.featured_at, last.id)
        if len(rows) < batch:
            return found, None
        before = (rows[-1].featured_at, rows[-1].id)
    return found, before


# --- collections and tags ----------------------------------------------------------------


async def create_collection(
    session: AsyncSession,
    principal: Principal,
    community_id: str,
    name: str,
    description: str | None,
    now: datetime,
) -> Row:
    await require_communities(session, principal.tenant_id, [community_id])
    repo = KnowledgeRepository(session)
    collection_id = str(uuid.uuid4())
    made = await repo.add_collection(
        {
            "id": collection_id,
            "tenant_id": principal.tenant_id,
            "community_id": community_id,
            "name": name,
            "description": description,
            "created_by": principal.subject,
            "created_at": now,
        }
    )
    if not made:
        raise Problem(409, "collection-exists", "Name taken", f"{community_id} has {name!r}")
    row = await repo.collection(principal.tenant_id, collection_id)
    assert row is not None
    return row


async def collections_of(
    session: AsyncSession, principal: Principal, community_id: str
) -> Sequence[Row]:
    await reader(session, principal, community_id)
    return await KnowledgeRepository(session).collections_of(principal.tenant_id, community_id)


async def collection(
    session: AsyncSession, principal: Principal, collection_id: str, limit: int
) -> tuple[Row, list[Row]]:
    """The collection and its posts the caller may see, in the order they were added; a
    collection of a community the member does not sit in is a 404."""
    repo = KnowledgeRepository(session)
    row = await repo.collection(principal.tenant_id, collection_id)
    if row is None:
        raise not_found("collection")
    try:
        who = await reader(session, principal, row.community_id)
    except Problem as refused:
        raise not_found("collection") from refused
    posts = await repo.collection_posts(principal.tenant_id, row.id, limit)
    return row, [post for post in posts if visible(who, audience_of(post))]


async def _editable_collection(
    session: AsyncSession, principal: Principal, collection_id: str
) -> Row:
    row = await KnowledgeRepository(session).collection(principal.tenant_id, collection_id)
    if row is None:
        raise not_found("collection")
    return row


async def add_to_collection(
    session: AsyncSession, principal: Principal, collection_id: str, post_id: str, now: datetime
) -> bool:
    """True if the post was added now (False: it was there already)."""
    row = await _editable_collection(session, principal, collection_id)
    post = await _published_post(session, principal, post_id)
    if post.review_state != ReviewState.APPROVED:
        raise Problem(409, "not-published", "Not published", "only published posts are collected")
    audience = audience_of(post)
    if not (audience.tenant_wide or row.community_id in audience.community_ids):
        raise Problem(
            422,
            "post-not-in-community",
            "Post elsewhere",
            f"the post is not published in {row.community_id}",
        )
    values = {
        "collection_id": row.id,
        "post_id": post.id,
        "added_by": principal.subject,
        "added_at": now,
    }
    return await KnowledgeRepository(session).add_to_collection(values)


async def remove_from_collection(
    session: AsyncSession, principal: Principal, collection_id: str, post_id: str
) -> None:
    row = await _editable_collection(session, principal, collection_id)
    if not await KnowledgeRepository(session).remove_from_collection(row.id, post_id):
        raise not_found("post in this collection")


async def tags(
    session: AsyncSession, principal: Principal, community_id: str
) -> list[tuple[str, int]]:
    """The community's tags with how many of its newest published posts the caller may see
    carry each, most used first."""
    who = await reader(session, principal, community_id)
    rows = await KnowledgeRepository(session).tag_posts(
        principal.tenant_id, who.scope or [], TAGGED_SCAN
    )
    counts = Counter(row.tag for row in rows if visible(who, Audience.from_json(row.audience)))
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))
