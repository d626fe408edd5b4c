"""Queries of polls and votes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from activities.orm import poll_votes, polls
from servicekit.db import dialect_insert, insert_ignore


class PollRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: dict[str, Any]) -> None:
        await self.session.execute(sa.insert(polls), row)

    async def get(self, tenant_id: str, poll_id: str, *, lock: str | None = None) -> Any:
        """``lock``: "share" (a vote: many at once, never beside a close) or "update" (the
        close), PostgreSQL only; SQLite's single writer serializes them anyway."""
        query = sa.select(polls).where(polls.c.tenant_id == tenant_id, polls.c.id == poll_id)
        if lock is not None:
            query = query.with_for_update(read=lock == "share")
        return (await self.session.execute(query)).first()

    async def of_tenant(self, tenant_id: str, community_ids: list[str] | None) -> list[Any]:
        query = sa.select(polls).where(polls.c.tenant_id == tenant_id)
        if community_ids is not None:
            query = query.where(polls.c.community_id.in_(community_ids))
        query = query.order_by(polls.c.created_at.desc(), polls.c.id).limit(200)
        return list((await self.session.execute(query)).all())

    async def vote_of(self, tenant_id: str, poll_id: str, member_id: str) -> Any:
        query = sa.select(poll_votes).where(
            poll_votes.c.tenant_id == tenant_id,
            poll_votes.c.poll_id == poll_id,
            poll_votes.c.member_id == member_id,
        )
        return (await self.session.execute(query)).first()

    async def add_vote(self, row: dict[str, Any], *, replace: bool) -> bool:
        """Insert the member's vote (``replace``: or change it); False when a vote exists
        and may not change."""
        if not replace:
            return await insert_ignore(self.session, poll_votes, row)
        insert = dialect_insert(self.session, poll_votes).values(**row)
        await self.session.execute(
            insert.on_conflict_do_update(
                index_elements=[
                    poll_votes.c.tenant_id,
                    poll_votes.c.poll_id,
                    poll_votes.c.member_id,
                ],
                set_={
                    "choices": insert.excluded.choices,
                    "text": insert.excluded.text,
                    "voted_at": insert.excluded.voted_at,
                },
            )
        )
        return True

    async def votes(self, tenant_id: str, poll_id: str) -> list[Any]:
        query = (
            sa.select(poll_votes.c.member_id, poll_votes.c.choices, poll_votes.c.text)
            .where(poll_votes.c.tenant_id == tenant_id, poll_votes.c.poll_id == poll_id)
            .order_by(poll_votes.c.voted_at, poll_votes.c.member_id)
        )
        return list((await self.session.execute(query)).all())

    async def close(self, tenant_id: str, poll_id: str, at: datetime) -> None:
        await self.session.execute(
            sa.update(polls)
            .where(polls.c.tenant_id == tenant_id, polls.c.id == poll_id)
            .values(closed_at=at)
        )
