"""Queries of the daily digest: its settings, the day's candidates, the days compiled."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from content.digest.domain import Candidate
from content.orm import (
    digest_edits,
    digest_settings,
    digests,
    post_communities,
    posts,
    recommendations,
)
from content.posts.repository import Row
from servicekit.db import insert_ignore

DIGEST_AUTHOR = "content:digest"  # the digest's own posts never make a digest


class DigestRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def settings(self, tenant_id: str, community_id: str) -> Row | None:
        d = digest_settings.c
        query = sa.select(digest_settings).where(
            d.tenant_id == tenant_id, d.community_id == community_id
        )
        return (await self.session.execute(query)).first()

    async def save_settings(self, values: dict[str, Any]) -> None:
        if not await insert_ignore(self.session, digest_settings, values):
            d = digest_settings.c
            await self.session.execute(
                sa.update(digest_settings)
                .where(d.tenant_id == values["tenant_id"], d.community_id == values["community_id"])
                .values(**values)
            )

    async def candidates(
        self, tenant_id: str, community_id: str, start: datetime, end: datetime
    ) -> list[Candidate]:
        """Approved, live posts published in the community in [start, end)."""
        p, pc = posts.c, post_communities.c
        query = (
            sa.select(
                p.id,
                p.title,
                p.body,
                p.created_at,
                p.like_count,
                p.comment_count,
                p.share_count,
                recommendations.c.post_id.is_not(None),
            )
            .select_from(
                post_communities.join(posts, p.id == pc.post_id).outerjoin(
                    recommendations, recommendations.c.post_id == p.id
                )
            )
            .where(
                pc.tenant_id == tenant_id,
                pc.community_id == community_id,
                pc.created_at >= start,
                pc.created_at < end,
                p.review_state == "approved",
                p.deleted_at.is_(None),
                p.author_id != DIGEST_AUTHOR,
            )
        )
        rows = (await self.session.execute(query)).all()
        return [Candidate(str(r[0]), r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7])) for r in rows]

    async def claim_day(self, values: dict[str, Any]) -> bool:
        """True when the community's day had no digest yet (now it has)."""
        return await insert_ignore(self.session, digests, values)

    async def set_post(
        self, tenant_id: str, community_id: str, day: str, post_id: str, post_ids: list[str]
    ) -> None:
        d = digests.c
        await self.session.execute(
            sa.update(digests)
            .where(d.tenant_id == tenant_id, d.community_id == community_id, d.day == day)
            .values(post_id=post_id, post_ids=post_ids)
        )

    async def compiled(self, tenant_id: str, community_id: str, day: str) -> bool:
        d = digests.c
        query = sa.select(d.day).where(
            d.tenant_id == tenant_id, d.community_id == community_id, d.day == day
        )
        return (await self.session.execute(query)).first() is not None

    async def edit(self, tenant_id: str, community_id: str, day: str) -> Row | None:
        e = digest_edits.c
        query = sa.select(digest_edits).where(
            e.tenant_id == tenant_id, e.community_id == community_id, e.day == day
        )
        return (await self.session.execute(query)).first()

    async def save_edit(self, values: dict[str, Any]) -> None:
        if not await insert_ignore(self.session, digest_edits, values):
            e = digest_edits.c
            await self.session.execute(
                sa.update(digest_edits)
                .where(
                    e.tenant_id == values["tenant_id"],
                    e.community_id == values["community_id"],
                    e.day == values["day"],
                )
                .values(**values)
            )
