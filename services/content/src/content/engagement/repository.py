"""Queries of comments, likes, bookmarks and shares, and the counters on the post."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from content.orm import comments, marks, posts, recommendations, shares
from content.posts.repository import After, Row
from content.top.repository import refresh_score
from servicekit.db import insert_ignore

COUNTERS = {"like": "like_count", "bookmark": "bookmark_count"}


class EngagementRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_comment(self, values: dict[str, Any]) -> None:
        await self.session.execute(sa.insert(comments), values)

    async def comment(self, tenant_id: str, comment_id: str) -> Row | None:
        query = sa.select(comments).where(
            comments.c.tenant_id == tenant_id, comments.c.id == comment_id
        )
        return (await self.session.execute(query)).first()

    async def comments(
        self, post_id: str, viewer_id: str | None, after: After, limit: int
    ) -> Sequence[Row]:
        """Approved comments oldest first; ``viewer_id``'s own held ones among them; every
        comment for operators (``viewer_id`` None)."""
        query = sa.select(comments).where(comments.c.post_id == post_id)
        if viewer_id is not None:
            query = query.where(
                sa.or_(
                    comments.c.review_state == "approved",
                    sa.and_(
                        comments.c.author_id == viewer_id,
                        comments.c.author_kind == "member",
                        comments.c.review_state == "pending",
                    ),
                )
            )
        at, key = comments.c.created_at, comments.c.id
        if after is not None:
            query = query.where(sa.or_(at > after[0], sa.and_(at == after[0], key > after[1])))
        return (await self.session.execute(query.order_by(at, key).limit(limit))).all()

    async def mark(self, tenant_id: str, post_id: str, member_id: str, kind: str, at: Any) -> bool:
        """True when the mark is new; the counter moves in the same transaction only then,
        so a repeated or concurrent like counts once (the primary key decides)."""
        row = {
            "post_id": post_id,
            "member_id": member_id,
            "kind": kind,
            "tenant_id": tenant_id,
            "created_at": at,
        }
        if not await insert_ignore(self.session, marks, row):
            return False
        await self._count(post_id, COUNTERS[kind], +1)
        return True

    async def unmark(self, post_id: str, member_id: str, kind: str) -> bool:
        result = await self.session.execute(
            sa.delete(marks).where(
                marks.c.post_id == post_id, marks.c.member_id == member_id, marks.c.kind == kind
            )
        )
        if getattr(result, "rowcount", 0) != 1:
            return False
        await self._count(post_id, COUNTERS[kind], -1)
        return True

    async def marked(self, post_id: str, member_id: str) -> set[str]:
        query = sa.select(marks.c.kind).where(
            marks.c.post_id == post_id, marks.c.member_id == member_id
        )
        return set((await self.session.execute(query)).scalars())

    async def share(self, values: dict[str, Any]) -> bool:
        if not await insert_ignore(self.session, shares, values):
            return False
        await self._count(values["post_id"], "share_count", +1)
        return True

    async def share_of(self, post_id: str, sharer_id: str) -> Row | None:
        query = sa.select(shares).where(
            shares.c.post_id == post_id, shares.c.sharer_id == sharer_id
        )
        return (await self.session.execute(query)).first()

    async def recommend(self, values: dict[str, Any]) -> bool:
        """True when the post is recommended now; False when it was before."""
        return await insert_ignore(self.session, recommendations, values)

    async def recommendation(self, post_id: str) -> Row | None:
        query = sa.select(recommendations).where(recommendations.c.post_id == post_id)
        return (await self.session.execute(query)).first()

    async def count_comment(self, post_id: str) -> None:
        await self._count(post_id, "comment_count", +1)

    async def _count(self, post_id: str, column: str, delta: int) -> None:
        # One conditional UPDATE: the row lock serializes concurrent counters on PostgreSQL.
        await self.session.execute(
            sa.update(posts).where(posts.c.id == post_id).values({column: posts.c[column] + delta})
        )
        await refresh_score(self.session, post_id)
