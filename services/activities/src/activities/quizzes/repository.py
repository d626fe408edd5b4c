"""Queries of the question bank, quizzes and attempts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from activities.orm import questions, quiz_attempts, quizzes
from servicekit.db import insert_ignore


class QuizRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_question(self, row: dict[str, Any]) -> None:
        await self.session.execute(sa.insert(questions), row)

    async def questions(self, tenant_id: str, ids: Sequence[str]) -> dict[str, Any]:
        """The tenant's questions among ``ids``, by id."""
        if not ids:
            return {}
        query = sa.select(questions).where(
            questions.c.tenant_id == tenant_id, questions.c.id.in_(sorted(set(ids)))
        )
        return {row.id: row for row in await self.session.execute(query)}

    async def bank(self, tenant_id: str, limit: int) -> list[Any]:
        query = (
            sa.select(questions)
            .where(questions.c.tenant_id == tenant_id)
            .order_by(questions.c.created_at.desc(), questions.c.id)
            .limit(limit)
        )
        return list((await self.session.execute(query)).all())

    async def add_quiz(self, row: dict[str, Any]) -> None:
        await self.session.execute(sa.insert(quizzes), row)

    async def quiz(self, tenant_id: str, quiz_id: str) -> Any:
        query = sa.select(quizzes).where(quizzes.c.tenant_id == tenant_id, quizzes.c.id == quiz_id)
        return (await self.session.execute(query)).first()

    async def quizzes(self, tenant_id: str, community_ids: list[str] | None) -> list[Any]:
        query = sa.select(quizzes).where(quizzes.c.tenant_id == tenant_id)
        if community_ids is not None:
            query = query.where(quizzes.c.community_id.in_(community_ids))
        query = query.order_by(quizzes.c.created_at.desc(), quizzes.c.id).limit(200)
        return list((await self.session.execute(query)).all())

    async def attempts_used(self, tenant_id: str, quiz_id: str, member_id: str) -> int:
        query = sa.select(sa.func.count()).where(
            quiz_attempts.c.tenant_id == tenant_id,
            quiz_attempts.c.quiz_id == quiz_id,
            quiz_attempts.c.member_id == member_id,
        )
        return int((await self.session.execute(query)).scalar_one())

    async def add_attempt(self, row: dict[str, Any]) -> bool:
        """False when a concurrent start took this attempt number."""
        return await insert_ignore(self.session, quiz_attempts, row)

    async def attempt(self, tenant_id: str, quiz_id: str, attempt_id: str) -> Any:
        query = sa.select(quiz_attempts).where(
            quiz_attempts.c.tenant_id == tenant_id,
            quiz_attempts.c.quiz_id == quiz_id,
            quiz_attempts.c.id == attempt_id,
        )
        return (await self.session.execute(query)).first()

    async def submit(
        self, tenant_id: str, attempt_id: str, at: datetime, values: dict[str, Any]
    ) -> bool:
        """Record the scored submission unless one was recorded already (True: this one)."""
        result = await self.session.execute(
            sa.update(quiz_attempts)
            .where(
                quiz_attempts.c.tenant_id == tenant_id,
                quiz_attempts.c.id == attempt_id,
                quiz_attempts.c.submitted_at.is_(None),
            )
            .values(submitted_at=at, **values)
        )
        return bool(getattr(result, "rowcount", 0) == 1)
