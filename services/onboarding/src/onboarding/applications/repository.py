"""Queries of applications (the questionnaire's answers and their review)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from onboarding.orm import Application
from onboarding.queries import After, oldest_first


class ApplicationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # applications
    async def application(self, tenant_id: str, application_id: str) -> Application | None:
        return await self.session.scalar(
            select(Application)
            .where(Application.tenant_id == tenant_id, Application.id == application_id)
            .with_for_update()
        )

    async def latest_application(self, membership_id: str) -> Application | None:
        return await self.session.scalar(
            select(Application)
            .where(Application.membership_id == membership_id)
            .order_by(Application.created_at.desc(), Application.id.desc())
            .limit(1)
        )

    async def applications_page(
        self,
        tenant_id: str,
        *,
        community_id: str | None,
        member_id: str | None,
        status: str | None,
        after: After | None,
        limit: int,
    ) -> Sequence[Application]:
        """Oldest first: the review queue is worked in the order members applied."""
        query = select(Application).where(Application.tenant_id == tenant_id)
        if community_id:
            query = query.where(Application.community_id == community_id)
        if member_id:
            query = query.where(Application.member_id == member_id)
        if status:
            query = query.where(Application.status == status)
        ordered = oldest_first(query, Application.created_at, Application.id, after, limit)
        return (await self.session.scalars(ordered)).all()
