"""Queries of posts, their communities, revisions and live updates."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from content.orm import community_settings, live_updates, post_communities, post_revisions, posts
from content.review.domain import ReviewState

Row = sa.Row[Any]
After = tuple[datetime, str] | None

_POST = sa.select(posts).where(
    posts.c.tenant_id == sa.bindparam("tenant_id"), posts.c.id == sa.bindparam("post_id")
)
_AUTO_APPROVE = sa.select(community_settings.c.auto_approve_level).where(
    community_settings.c.tenant_id == sa.bindparam("tenant_id"),
    community_settings.c.community_id == sa.bindparam("community_id"),
)


def _newest_first(query: Any, after: After, at: Any, key: Any, limit: int) -> Any:
    if after is not None:
        # (at, key) < after, spelled so that each side binds with its column's type.
        query = query.where(sa.or_(at < after[0], sa.and_(at == after[0], key < after[1])))
    return query.order_by(at.desc(), key.desc()).limit(limit)


class PostRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def post(self, tenant_id: str, post_id: str, *, lock: bool = False) -> Row | None:
        query = _POST.with_for_update() if lock else _POST
        params = {"tenant_id": tenant_id, "post_id": post_id}
        return (await self.session.execute(query, params)).first()

    async def posts_by_id(self, tenant_id: str, ids: Sequence[str]) -> dict[str, Row]:
        if not ids:
            return {}
        query = sa.select(posts).where(posts.c.tenant_id == tenant_id, posts.c.id.in_(ids))
        return {row.id: row for row in (await self.session.execute(query)).all()}

    async def add(self, values: dict[str, Any], communities: Sequence[str]) -> None:
        await self.session.execute(sa.insert(posts), values)
        rows = [
            {
                "tenant_id": values["tenant_id"],
                "post_id": values["id"],
                "community_id": community_id,
                "created_at": values["created_at"],
            }
            for community_id in sorted(communities)
        ]
        await self.session.execute(sa.insert(post_communities), rows)

    async def update(self, post_id: str, values: dict[str, Any]) -> None:
        await self.session.execute(sa.update(posts).where(posts.c.id == post_id).values(values))

    async def add_revision(self, values: dict[str, Any]) -> None:
        await self.session.execute(sa.insert(post_revisions), values)

    async def revisions(self, post_id: str) -> Sequence[Row]:
        query = (
            sa.select(post_revisions)
            .where(post_revisions.c.post_id == post_id)
            .order_by(post_revisions.c.version.desc())
        )
        return (await self.session.execute(query)).all()

    async def add_update(self, values: dict[str, Any]) -> None:
        await self.session.execute(sa.insert(live_updates), values)

    async def updates(self, post_id: str) -> Sequence[Row]:
        query = (
            sa.select(live_updates)
            .where(live_updates.c.post_id == post_id)
            .order_by(live_updates.c.created_at, live_updates.c.id)
        )
        return (await self.session.execute(query)).all()

    async def auto_approve_level(self, tenant_id: str, community_id: str) -> int | None:
        params = {"tenant_id": tenant_id, "community_id": community_id}
        level = (await self.session.execute(_AUTO_APPROVE, params)).scalar()
        return None if level is None else int(level)

    async def in_communities(
        self,
        tenant_id: str,
        community_ids: Sequence[str],
        after: After,
        limit: int,
        *,
        review_state: ReviewState | None = ReviewState.APPROVED,
        pinned: bool | None = None,
    ) -> Sequence[Row]:
        """Live (not deleted) posts stored under any of ``community_ids``, newest first, each
        once even when it is in several of them."""
        query = sa.select(posts).where(
            posts.c.tenant_id == tenant_id,
            posts.c.deleted_at.is_(None),
            sa.exists().where(
                post_communities.c.tenant_id == tenant_id,
                post_communities.c.post_id == posts.c.id,
                post_communities.c.community_id.in_(community_ids),
            ),
        )
        if review_state is not None:
            query = query.where(posts.c.review_state == review_state.value)
        if pinned is not None:
            query = query.where(posts.c.pinned == pinned)
        query = _newest_first(query, after, posts.c.created_at, posts.c.id, limit)
        return (await self.session.execute(query)).all()

    async def by_author(
        self, tenant_id: str, author_id: str, after: After, limit: int
    ) -> Sequence[Row]:
        query = sa.select(posts).where(
            posts.c.tenant_id == tenant_id,
            posts.c.author_id == author_id,
            posts.c.author_kind == "member",
            posts.c.deleted_at.is_(None),
        )
        query = _newest_first(query, after, posts.c.created_at, posts.c.id, limit)
        return (await self.session.execute(query)).all()
