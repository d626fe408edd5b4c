"""Queries of feed "top": the stored score, views, and pages in score order."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from content.orm import post_communities, post_views, posts
from content.review.domain import ReviewState
from content.top.domain import Engagement, score
from servicekit.db import insert_ignore

Row = sa.Row[Any]
AfterScore = tuple[float, str] | None

_COUNTS = sa.select(
    posts.c.created_at,
    posts.c.view_count,
    posts.c.like_count,
    posts.c.bookmark_count,
    posts.c.comment_count,
    posts.c.share_count,
).where(posts.c.id == sa.bindparam("post_id"))


def engagement_of(row: Any) -> Engagement:
    return Engagement(
        views=row.view_count,
        likes=row.like_count,
        bookmarks=row.bookmark_count,
        comments=row.comment_count,
        shares=row.share_count,
    )


async def refresh_score(session: AsyncSession, post_id: str) -> None:
    """Re-compute the post's stored score from its counters. Called right after a counter
    UPDATE in the same transaction: that UPDATE holds the row lock, so the counters read
    here are the latest and concurrent changes write their scores in commit order."""
    row = (await session.execute(_COUNTS, {"post_id": post_id})).first()
    if row is None:
        return
    value = score(engagement_of(row), row.created_at)
    await session.execute(sa.update(posts).where(posts.c.id == post_id).values(top_score=value))


class TopRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def view(self, tenant_id: str, post_id: str, member_id: str, at: datetime) -> bool:
        """True when this is the member's first view: only then the counter moves."""
        row = {"post_id": post_id, "member_id": member_id, "tenant_id": tenant_id, "viewed_at": at}
        if not await insert_ignore(self.session, post_views, row):
            return False
        await self.session.execute(
            sa.update(posts).where(posts.c.id == post_id).values(view_count=posts.c.view_count + 1)
        )
        await refresh_score(self.session, post_id)
        return True

    async def page(
        self, tenant_id: str, scope: Sequence[str], after: AfterScore, limit: int
    ) -> Sequence[Row]:
        """Published posts of ``scope`` (communities, ``*`` tenant-wide), best score first."""
        at, key = posts.c.top_score, posts.c.id
        query = sa.select(posts).where(
            posts.c.tenant_id == tenant_id,
            posts.c.review_state == ReviewState.APPROVED.value,
            posts.c.deleted_at.is_(None),
            sa.exists().where(
                post_communities.c.tenant_id == tenant_id,
                post_communities.c.post_id == posts.c.id,
                post_communities.c.community_id.in_(scope),
            ),
        )
        if after is not None:
            query = query.where(sa.or_(at < after[0], sa.and_(at == after[0], key < after[1])))
        return (
            await self.session.execute(query.order_by(at.desc(), key.desc()).limit(limit))
        ).all()
