"""Queries of invites."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from onboarding.orm import InviteCode
from onboarding.queries import After, oldest_first


class InviteRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # invites
    async def invite(self, tenant_id: str, code: str) -> InviteCode | None:
        return await self.session.scalar(
            select(InviteCode).where(InviteCode.tenant_id == tenant_id, InviteCode.code == code)
        )

    async def invite_by_id(self, tenant_id: str, invite_id: str) -> InviteCode | None:
        return await self.session.scalar(
            select(InviteCode).where(InviteCode.tenant_id == tenant_id, InviteCode.id == invite_id)
        )

    async def invites_page(
        self, tenant_id: str, *, community_id: str | None, after: After | None, limit: int
    ) -> Sequence[InviteCode]:
        query = select(InviteCode).where(InviteCode.tenant_id == tenant_id)
        if community_id:
            query = query.where(InviteCode.community_id == community_id)
        ordered = oldest_first(query, InviteCode.created_at, InviteCode.id, after, limit)
        return (await self.session.scalars(ordered)).all()

    async def take_invite_use(self, invite: InviteCode, now: datetime) -> bool:
        """Conditional increment: True when a use was left (and the invite still valid).

        Like ``take_seat``, the WHERE is re-checked on the latest row version, so concurrent
        redemptions never take more than ``max_uses``. ``invite.uses`` is refreshed without
        marking it changed (a flush must not write the count back).
        """
        result = await self.session.execute(
            update(InviteCode)
            .where(
                InviteCode.id == invite.id,
                InviteCode.revoked_at.is_(None),
                or_(InviteCode.max_uses.is_(None), InviteCode.uses < InviteCode.max_uses),
                or_(InviteCode.expires_at.is_(None), InviteCode.expires_at > now),
            )
            .values(uses=InviteCode.uses + 1)
            .returning(InviteCode.uses)
            .execution_options(synchronize_session=False)
        )
        uses = result.scalar()
        if uses is None:
            return False
        set_committed_value(invite, "uses", uses)
        return True
