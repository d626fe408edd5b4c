"""Queries of the review queue and of the communities' review settings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from content.orm import comments, community_settings, post_communities, posts
from content.posts.repository import After, Row
from content.review.domain import ReviewState
from content.top.repository import refresh_score
from servicekit.db import dialect_insert


def _oldest_first(query: Any, after: After, at: Any, key: Any, limit: int) -> Any:
    if after is not None:
        query = query.where(sa.or_(at > after[0], sa.and_(at == after[0], key > after[1])))
    return query.order_by(at, key).limit(limit)


class ReviewRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def pending_posts(
        self, tenant_id: str, community_id: str | None, after: After, limit: int
    ) -> Sequence[Row]:
        query = sa.select(posts).where(
            posts.c.tenant_id == tenant_id,
            posts.c.review_state == ReviewState.PENDING.value,
            posts.c.deleted_at.is_(None),
        )
        if community_id is not None:
            query = query.where(
                sa.exists().where(
                    post_communities.c.tenant_id == tenant_id,
                    post_communities.c.post_id == posts.c.id,
                    post_communities.c.community_id == community_id,
                )
            )
        query = _oldest_first(query, after, posts.c.created_at, posts.c.id, limit)
        return (await self.session.execute(query)).all()

    async def pending_comments(
        self, tenant_id: str, community_id: str | None, after: After, limit: int
    ) -> Sequence[Row]:
        query = sa.select(comments).where(
            comments.c.tenant_id == tenant_id,
            comments.c.review_state == ReviewState.PENDING.value,
        )
        if community_id is not None:
            query = query.where(comments.c.community_id == community_id)
        query = _oldest_first(query, after, comments.c.created_at, comments.c.id, limit)
        return (await self.session.execute(query)).all()

    async def comment(self, tenant_id: str, comment_id: str, *, lock: bool = False) -> Row | None:
        query = sa.select(comments).where(
            comments.c.tenant_id == tenant_id, comments.c.id == comment_id
        )
        if lock:
            query = query.with_for_update()
        return (await self.session.execute(query)).first()

    async def set_comment(self, comment_id: str, values: dict[str, Any]) -> None:
        await self.session.execute(
            sa.update(comments).where(comments.c.id == comment_id).values(values)
        )

    async def count_comment(self, post_id: str, delta: int) -> None:
        await self.session.execute(
            sa.update(posts)
            .where(posts.c.id == post_id)
            .values(comment_count=posts.c.comment_count + delta)
        )
        await refresh_score(self.session, post_id)

    async def settings(self, tenant_id: str, community_id: str) -> Row | None:
        query = sa.select(community_settings).where(
            community_settings.c.tenant_id == tenant_id,
            community_settings.c.community_id == community_id,
        )
        return (await self.session.execute(query)).first()

    async def save_settings(
        self, tenant_id: str, community_id: str, auto_approve_level: int | None, at: datetime
    ) -> None:
        values = {"auto_approve_level": auto_approve_level, "updated_at": at}
        insert = dialect_insert(self.session, community_settings).values(
            tenant_id=tenant_id, community_id=community_id, **values
        )
        await self.session.execute(
            insert.on_conflict_do_update(
                index_elements=[community_settings.c.tenant_id, community_settings.c.community_id],
                set_=values,
            )
        )
