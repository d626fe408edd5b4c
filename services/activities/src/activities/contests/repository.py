"""Queries of contests, their awarded places, and the facts they rank: check-ins,
quiz attempts and completed challenges (read from those features' tables, never written)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from activities.contests.domain import Fact, Metric
from activities.orm import (
    challenges,
    checkins,
    contest_awards,
    contests,
    participants,
    quiz_attempts,
    quizzes,
)


class ContestRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: dict[str, Any]) -> None:
        await self.session.execute(sa.insert(contests), row)

    async def get(self, tenant_id: str, contest_id: str, *, lock: bool = False) -> Any:
        """``lock``: the settlement and a cancellation take the contest's row (PostgreSQL;
        SQLite's single writer serializes them), so only one of them acts."""
        query = sa.select(contests).where(
            contests.c.tenant_id == tenant_id, contests.c.id == contest_id
        )
        if lock:
            query = query.with_for_update()
        return (await self.session.execute(query)).first()

    async def of_tenant(self, tenant_id: str, community_ids: list[str] | None) -> list[Any]:
        """``community_ids``: a member's communities (tenant-wide contests too); None: all."""
        query = sa.select(contests).where(contests.c.tenant_id == tenant_id)
        if community_ids is not None:
            query = query.where(
                sa.or_(
                    contests.c.community_id.is_(None), contests.c.community_id.in_(community_ids)
                )
            )
        query = query.order_by(contests.c.created_at.desc(), contests.c.id).limit(200)
        return list((await self.session.execute(query)).all())

    async def update(self, tenant_id: str, contest_id: str, **values: Any) -> None:
        await self.session.execute(
            sa.update(contests)
            .where(contests.c.tenant_id == tenant_id, contests.c.id == contest_id)
            .values(**values)
        )

    async def add_awards(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            await self.session.execute(sa.insert(contest_awards), rows)

    async def awards(self, tenant_id: str, contest_id: str) -> list[Any]:
        query = (
            sa.select(contest_awards)
            .where(
                contest_awards.c.tenant_id == tenant_id,
                contest_awards.c.contest_id == contest_id,
            )
            .order_by(contest_awards.c.place)
        )
        return list((await self.session.execute(query)).all())

    async def facts(self, row: Any) -> list[Fact]:
        """What the contest ranks, as of now (no later than its end)."""
        if row.metric == Metric.CHECKINS:
            return await self._checkins(row)
        if row.metric == Metric.QUIZ_POINTS:
            return await self._quiz_points(row)
        return await self._completed(row)

    async def _checkins(self, row: Any) -> list[Fact]:
        """One fact per member: their check-ins for days of the period (a make-up made
        after the end does not count), reached at the last of them."""
        start: date = row.start_date
        end: date = row.end_date
        query = (
            sa.select(
                checkins.c.member_id,
                sa.func.count().label("n"),
                sa.func.max(checkins.c.checked_at).label("at"),
            )
            .join(
                challenges,
                sa.and_(
                    challenges.c.id == checkins.c.challenge_id,
                    challenges.c.tenant_id == checkins.c.tenant_id,
                ),
            )
            .where(
                checkins.c.tenant_id == row.tenant_id,
                checkins.c.day >= start,
                checkins.c.day <= end,
                checkins.c.checked_at < row.ends_at,
            )
            .group_by(checkins.c.member_id)
        )
        if row.community_id is not None:
            query = query.where(challenges.c.community_id == row.community_id)
        found = (await self.session.execute(query)).all()
        return [Fact(str(m), "checkins", int(n), _aware(at)) for m, n, at in found]

    async def _quiz_points(self, row: Any) -> list[Fact]:
        """Each submitted attempt in the period (the domain keeps each quiz's best)."""
        query = (
            sa.select(
                quiz_attempts.c.member_id,
                quiz_attempts.c.quiz_id,
                quiz_attempts.c.correct,
                quiz_attempts.c.submitted_at,
            )
            .join(
                quizzes,
                sa.and_(
                    quizzes.c.id == quiz_attempts.c.quiz_id,
                    quizzes.c.tenant_id == quiz_attempts.c.tenant_id,
                ),
            )
            .where(
                quiz_attempts.c.tenant_id == row.tenant_id,
                quiz_attempts.c.submitted_at >= row.starts_at,
                quiz_attempts.c.submitted_at < row.ends_at,
                quiz_attempts.c.correct > 0,
            )
        )
        if row.community_id is not None:
            query = query.where(quizzes.c.community_id == row.community_id)
        found = (await self.session.execute(query)).all()
        return [Fact(str(m), str(q), int(c), _aware(at)) for m, q, c, at in found]

    async def _completed(self, row: Any) -> list[Fact]:
        query = (
            sa.select(
                participants.c.member_id, participants.c.challenge_id, participants.c.completed_at
            )
            .join(
                challenges,
                sa.and_(
                    challenges.c.id == participants.c.challenge_id,
                    challenges.c.tenant_id == participants.c.tenant_id,
                ),
            )
            .where(
                participants.c.tenant_id == row.tenant_id,
                participants.c.completed_at >= row.starts_at,
                participants.c.completed_at < row.ends_at,
            )
        )
        if row.community_id is not None:
            query = query.where(challenges.c.community_id == row.community_id)
        found = (await self.session.execute(query)).all()
        return [Fact(str(m), str(c), 1, _aware(at)) for m, c, at in found]


def _aware(at: datetime) -> datetime:
    """UtcDateTime columns come back aware; an aggregate (max) on SQLite may not."""
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
