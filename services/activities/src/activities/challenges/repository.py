"""Queries of check-in challenges."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from activities.orm import challenges, checkins, participants
from servicekit.db import insert_ignore

_CHALLENGE = sa.select(challenges).where(
    challenges.c.tenant_id == sa.bindparam("tenant_id"), challenges.c.id == sa.bindparam("id")
)
_PARTICIPANT = sa.select(participants).where(
    participants.c.tenant_id == sa.bindparam("tenant_id"),
    participants.c.challenge_id == sa.bindparam("challenge_id"),
    participants.c.member_id == sa.bindparam("member_id"),
)
_DAYS = (
    sa.select(checkins.c.day, checkins.c.make_up, checkins.c.checked_at)
    .where(
        checkins.c.tenant_id == sa.bindparam("tenant_id"),
        checkins.c.challenge_id == sa.bindparam("challenge_id"),
        checkins.c.member_id == sa.bindparam("member_id"),
    )
    .order_by(checkins.c.day)
)


class ChallengeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: dict[str, Any]) -> None:
        await self.session.execute(sa.insert(challenges), row)

    async def get(self, tenant_id: str, challenge_id: str) -> sa.Row[Any] | None:
        params = {"tenant_id": tenant_id, "id": challenge_id}
        return (await self.session.execute(_CHALLENGE, params)).first()

    async def of_tenant(self, tenant_id: str, community_ids: list[str] | None) -> list[Any]:
        """The tenant's challenges, newest first; only those of ``community_ids`` if given."""
        query = sa.select(challenges).where(challenges.c.tenant_id == tenant_id)
        if community_ids is not None:
            query = query.where(challenges.c.community_id.in_(community_ids))
        query = query.order_by(challenges.c.created_at.desc(), challenges.c.id).limit(200)
        return list((await self.session.execute(query)).all())

    async def lock_participant(
        self, tenant_id: str, challenge_id: str, member_id: str, day: date, at: datetime
    ) -> sa.Row[Any]:
        """The member's standing, created empty on first use, locked for this transaction
        (PostgreSQL): two check-ins of one member (today and a make-up) apply one at a time."""
        await insert_ignore(
            self.session,
            participants,
            {
                "tenant_id": tenant_id,
                "challenge_id": challenge_id,
                "member_id": member_id,
                "total": 0,
                "streak": 0,
                "last_day": day,
                "best_streak": 0,
                "makeups_used": 0,
                "milestones": [],
                "first_at": at,
                "completed_at": None,
            },
        )
        params = {"tenant_id": tenant_id, "challenge_id": challenge_id, "member_id": member_id}
        row = (await self.session.execute(_PARTICIPANT.with_for_update(), params)).first()
        assert row is not None
        return row

    async def participant(
        self, tenant_id: str, challenge_id: str, member_id: str
    ) -> sa.Row[Any] | None:
        params = {"tenant_id": tenant_id, "challenge_id": challenge_id, "member_id": member_id}
        return (await self.session.execute(_PARTICIPANT, params)).first()

    async def days(self, tenant_id: str, challenge_id: str, member_id: str) -> list[Any]:
        params = {"tenant_id": tenant_id, "challenge_id": challenge_id, "member_id": member_id}
        return list((await self.session.execute(_DAYS, params)).all())

    async def add_checkin(self, row: dict[str, Any]) -> bool:
        """False when the member already has a check-in for that day (the unique key)."""
        return await insert_ignore(self.session, checkins, row)

    async def save_participant(self, key: dict[str, str], values: dict[str, Any]) -> None:
        await self.session.execute(
            sa.update(participants)
            .where(
                participants.c.tenant_id == key["tenant_id"],
                participants.c.challenge_id == key["challenge_id"],
                participants.c.member_id == key["member_id"],
            )
            .values(**values)
        )

    async def by_standing(
        self, tenant_id: str, challenge_id: str, alive_since: date, by: str, limit: int
    ) -> list[Any]:
        """Participants ranked by their live streak (a streak whose last day is before
        ``alive_since`` counts 0) or their total; ties: more days, then who started first."""
        live = sa.case((participants.c.last_day >= alive_since, participants.c.streak), else_=0)
        query = sa.select(
            participants.c.member_id,
            participants.c.total,
            participants.c.best_streak,
            participants.c.first_at,
            live.label("streak"),
        ).where(
            participants.c.tenant_id == tenant_id,
            participants.c.challenge_id == challenge_id,
            participants.c.total > 0,
        )
        first = live.desc() if by == "streak" else participants.c.total.desc()
        second = participants.c.total.desc() if by == "streak" else live.desc()
        query = query.order_by(first, second, participants.c.first_at, participants.c.member_id)
        return list((await self.session.execute(query.limit(limit))).all())

    async def earliest(self, tenant_id: str, challenge_id: str, day: date, limit: int) -> list[Any]:
        """The day's on-time check-ins, earliest first (an early-rise challenge's board)."""
        query = (
            sa.select(checkins.c.member_id, checkins.c.checked_at)
            .where(
                checkins.c.tenant_id == tenant_id,
                checkins.c.challenge_id == challenge_id,
                checkins.c.day == day,
                checkins.c.make_up.is_(False),
            )
            .order_by(checkins.c.checked_at, checkins.c.member_id)
            .limit(limit)
        )
        return list((await self.session.execute(query)).all())
