"""Queries of the knowledge base: the search index, tags, 精华 and collections."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from content.knowledge.domain import grams
from content.orm import (
    collection_posts,
    collections,
    post_communities,
    post_features,
    post_grams,
    post_tags,
    posts,
)
from content.review.domain import ReviewState
from servicekit.db import insert_ignore

Row = sa.Row[Any]


def _published(tenant_id: str) -> Any:
    return sa.and_(
        posts.c.tenant_id == tenant_id,
        posts.c.review_state == ReviewState.APPROVED.value,
        posts.c.deleted_at.is_(None),
    )


def _in_scope(tenant_id: str, scope: Sequence[str] | None) -> Any:
    """Published in one of these communities (``*``: tenant-wide); None: anywhere."""
    if scope is None:
        return sa.true()
    return sa.exists().where(
        post_communities.c.tenant_id == tenant_id,
        post_communities.c.post_id == posts.c.id,
        post_communities.c.community_id.in_(scope),
    )


class KnowledgeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- index ---------------------------------------------------------------------------

    async def reindex(self, post: Row) -> None:
        """The post's grams and tag rows, replaced by what its current text gives."""
        await self.unindex(post.id)
        found = grams(post.title or "", post.body, *post.tags)
        if found:
            rows = [{"tenant_id": post.tenant_id, "gram": g, "post_id": post.id} for g in found]
            await self.session.execute(sa.insert(post_grams), rows)
        tags = [{"tenant_id": post.tenant_id, "tag": t, "post_id": post.id} for t in post.tags]
        if tags:
            await self.session.execute(sa.insert(post_tags), tags)

    async def unindex(self, post_id: str) -> None:
        await self.session.execute(sa.delete(post_grams).where(post_grams.c.post_id == post_id))
        await self.session.execute(sa.delete(post_tags).where(post_tags.c.post_id == post_id))

    async def candidates(
        self,
        tenant_id: str,
        needed: Iterable[str],
        scope: Sequence[str] | None,
        *,
        tag: str | None,
        featured_only: bool,
        limit: int,
    ) -> Sequence[Row]:
        """Published posts of ``scope`` whose index holds every needed gram, newest first,
        with their 精华 time (null if not featured)."""
        needed = sorted(set(needed))
        having = (
            sa.select(post_grams.c.post_id)
            .where(post_grams.c.tenant_id == tenant_id, post_grams.c.gram.in_(needed))
            .group_by(post_grams.c.post_id)
            .having(sa.func.count() == len(needed))
        )
        query = (
            sa.select(posts, post_features.c.featured_at)
            .outerjoin(post_features, post_features.c.post_id == posts.c.id)
            .where(_published(tenant_id), posts.c.id.in_(having), _in_scope(tenant_id, scope))
        )
        if featured_only:
            query = query.where(post_features.c.post_id.is_not(None))
        if tag is not None:
            query = query.where(
                sa.exists().where(
                    post_tags.c.tenant_id == tenant_id,
                    post_tags.c.tag == tag,
                    post_tags.c.post_id == posts.c.id,
                )
            )
        query = query.order_by(posts.c.created_at.desc(), posts.c.id.desc()).limit(limit)
        return (await self.session.execute(query)).all()

    async def tag_posts(self, tenant_id: str, scope: Sequence[str], limit: int) -> Sequence[Row]:
        """(tag, audience) of the newest tagged published posts of ``scope``."""
        query: Any = (
            sa.select(post_tags.c.tag, posts.c.audience)
            .join(posts, posts.c.id == post_tags.c.post_id)
            .where(post_tags.c.tenant_id == tenant_id, _published(tenant_id))
            .where(_in_scope(tenant_id, scope))
            .order_by(posts.c.created_at.desc())
            .limit(limit)
        )
        return (await self.session.execute(query)).all()

    # --- 精华 ----------------------------------------------------------------------------

    async def feature(self, values: dict[str, Any]) -> bool:
        """True if the post was not featured before (the row is new)."""
        return await insert_ignore(self.session, post_features, values)

    async def unfeature(self, post_id: str) -> bool:
        result = await self.session.execute(
            sa.delete(post_features).where(post_features.c.post_id == post_id)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def featured_of(self, post_id: str) -> Row | None:
        query = sa.select(post_features).where(post_features.c.post_id == post_id)
        return (await self.session.execute(query)).first()

    async def featured(
        self, tenant_id: str, scope: Sequence[str], before: tuple[datetime, str] | None, limit: int
    ) -> Sequence[Row]:
        """Featured published posts of ``scope``, the most recently featured first."""
        at, key = post_features.c.featured_at, post_features.c.post_id
        query = (
            sa.select(posts, post_features.c.featured_at)
            .join(post_features, post_features.c.post_id == posts.c.id)
            .where(post_features.c.tenant_id == tenant_id, _published(tenant_id))
            .where(_in_scope(tenant_id, scope))
        )
        if before is not None:
            query = query.where(sa.or_(at < before[0], sa.and_(at == before[0], key < before[1])))
        query = query.order_by(at.desc(), key.desc()).limit(limit)
        return (await self.session.execute(query)).all()

    # --- collections ---------------------------------------------------------------------

    async def add_collection(self, values: dict[str, Any]) -> bool:
        """False when the community already has a collection of that name."""
        return await insert_ignore(self.session, collections, values)

    async def collection(self, tenant_id: str, collection_id: str) -> Row | None:
        query = sa.select(collections).where(
            collections.c.tenant_id == tenant_id, collections.c.id == collection_id
        )
        return (await self.session.execute(query)).first()

    async def collections_of(self, tenant_id: str, community_id: str) -> Sequence[Row]:
        count = (
            sa.select(sa.func.count())
            .select_from(collection_posts)
            .where(collection_posts.c.collection_id == collections.c.id)
            .scalar_subquery()
        )
        query = (
            sa.select(collections, count.label("post_count"))
            .where(collections.c.tenant_id == tenant_id, collections.c.community_id == community_id)
            .order_by(collections.c.created_at, collections.c.id)
        )
        return (await self.session.execute(query)).all()

    async def add_to_collection(self, values: dict[str, Any]) -> bool:
        return await insert_ignore(self.session, collection_posts, values)

    async def remove_from_collection(self, collection_id: str, post_id: str) -> bool:
        result = await self.session.execute(
            sa.delete(collection_posts).where(
                collection_posts.c.collection_id == collection_id,
                collection_posts.c.post_id == post_id,
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def collection_posts(
        self, tenant_id: str, collection_id: str, limit: int
    ) -> Sequence[Row]:
        """The collection's published posts, in the order they were added."""
        query = (
            sa.select(posts)
            .join(collection_posts, collection_posts.c.post_id == posts.c.id)
            .where(collection_posts.c.collection_id == collection_id, _published(tenant_id))
            .order_by(collection_posts.c.added_at, collection_posts.c.post_id)
            .limit(limit)
        )
        return (await self.session.execute(query)).all()
