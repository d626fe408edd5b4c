"""Queries of talks, their questions and votes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from activities.orm import talk_attendance as attendance
from activities.orm import talk_questions as questions
from activities.orm import talk_votes as votes
from activities.orm import talks
from servicekit.db import insert_ignore

_Q = questions.c


class TalkRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: dict[str, Any]) -> None:
        await self.session.execute(sa.insert(talks), row)

    async def get(self, tenant_id: str, talk_id: str) -> Any:
        query = sa.select(talks).where(talks.c.tenant_id == tenant_id, talks.c.id == talk_id)
        return (await self.session.execute(query)).first()

    async def of_tenant(self, tenant_id: str, community_ids: list[str] | None) -> list[Any]:
        query = sa.select(talks).where(talks.c.tenant_id == tenant_id)
        if community_ids is not None:
            query = query.where(talks.c.community_id.in_(community_ids))
        query = query.order_by(talks.c.starts_at.desc(), talks.c.id).limit(200)
        return list((await self.session.execute(query)).all())

    async def ask(self, row: dict[str, Any]) -> None:
        await self.session.execute(sa.insert(questions), row)

    async def question(self, tenant_id: str, talk_id: str, question_id: str) -> Any:
        query = sa.select(questions).where(
            _Q.tenant_id == tenant_id, _Q.talk_id == talk_id, _Q.id == question_id
        )
        return (await self.session.execute(query)).first()

    async def questions(self, tenant_id: str, talk_id: str) -> list[Any]:
        query = sa.select(questions).where(_Q.tenant_id == tenant_id, _Q.talk_id == talk_id)
        return list((await self.session.execute(query)).all())

    async def vote(self, tenant_id: str, question_id: str, member_id: str, at: datetime) -> bool:
        """The member's vote (once: the primary key) and the count raised with it; False
        when they voted already."""
        row = {
            "tenant_id": tenant_id,
            "question_id": question_id,
            "member_id": member_id,
            "voted_at": at,
        }
        if not await insert_ignore(self.session, votes, row):
            return False
        await self.session.execute(
            sa.update(questions)
            .where(_Q.tenant_id == tenant_id, _Q.id == question_id)
            .values(votes=_Q.votes + 1)
        )
        return True

    async def voted(self, tenant_id: str, talk_id: str, member_id: str) -> set[str]:
        query = (
            sa.select(votes.c.question_id)
            .join(
                questions, sa.and_(_Q.tenant_id == votes.c.tenant_id, _Q.id == votes.c.question_id)
            )
            .where(
                votes.c.tenant_id == tenant_id,
                _Q.talk_id == talk_id,
                votes.c.member_id == member_id,
            )
        )
        return {str(q) for q in (await self.session.execute(query)).scalars()}

    async def mark(self, tenant_id: str, question_id: str, status: str, at: datetime) -> None:
        await self.session.execute(
            sa.update(questions)
            .where(_Q.tenant_id == tenant_id, _Q.id == question_id)
            .values(status=status, marked_at=at)
        )

    async def move(
        self, tenant_id: str, talk_id: str, starts_at: datetime, ends_at: datetime
    ) -> None:
        await self.session.execute(
            sa.update(talks)
            .where(talks.c.tenant_id == tenant_id, talks.c.id == talk_id)
            .values(starts_at=starts_at, ends_at=ends_at)
        )

    async def attend(
        self, tenant_id: str, talk_id: str, member_id: str, minutes: int, at: datetime
    ) -> bool:
        """Record a report; True for the member's first one (the key decides, whatever
        runs at once). Minutes only grow: max-merged in the statement."""
        row = {
            "tenant_id": tenant_id,
            "talk_id": talk_id,
            "member_id": member_id,
            "minutes": minutes,
            "joined_at": at,
            "reported_at": at,
        }
        if await insert_ignore(self.session, attendance, row):
            return True
        a = attendance.c
        await self.session.execute(
            sa.update(attendance)
            .where(a.tenant_id == tenant_id, a.talk_id == talk_id, a.member_id == member_id)
            .values(
                minutes=sa.case((a.minutes < minutes, minutes), else_=a.minutes),
                reported_at=at,
            )
        )
        return False

    async def attendance(self, tenant_id: str, talk_id: str, member_id: str | None) -> list[Any]:
        query = sa.select(attendance).where(
            attendance.c.tenant_id == tenant_id, attendance.c.talk_id == talk_id
        )
        if member_id is not None:
            query = query.where(attendance.c.member_id == member_id)
        query = query.order_by(attendance.c.joined_at, attendance.c.member_id)
        return list((await self.session.execute(query)).all())
