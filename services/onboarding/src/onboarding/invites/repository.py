"""Queries of invites."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from onboarding.orm import InviteCode, Member, Membership
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
        self,
        tenant_id: str,
        *,
        community_id: str | None,
        after: After | None,
        limit: int,
        inviter_id: str | None = None,
    ) -> Sequence[InviteCode]:
        query = select(InviteCode).where(InviteCode.tenant_id == tenant_id)
        if community_id:
            query = query.where(InviteCode.community_id == community_id)
        if inviter_id is not None:
            query = query.where(InviteCode.inviter_id == inviter_id)
        ordered = oldest_first(query, InviteCode.created_at, InviteCode.id, after, limit)
        return (await self.session.scalars(ordered)).all()

    async def active_links(
        self, tenant_id: str, community_id: str, member_id: str, now: datetime
    ) -> int:
        """The member's own links in the community that can still be redeemed."""
        query = select(func.count()).where(
            InviteCode.tenant_id == tenant_id,
            InviteCode.community_id == community_id,
            InviteCode.inviter_id == member_id,
            InviteCode.created_by == member_id,
            InviteCode.revoked_at.is_(None),
            or_(InviteCode.max_uses.is_(None), InviteCode.uses < InviteCode.max_uses),
            or_(InviteCode.expires_at.is_(None), InviteCode.expires_at > now),
        )
        return int(await self.session.scalar(query) or 0)

    async def invitees_page(
        self, invite: InviteCode, *, after: After | None, limit: int
    ) -> list[tuple[Membership, str | None]]:
        """Who joined through the invite (memberships whose source is it), with their
        display names, oldest first."""
        query = (
            select(Membership)
            .outerjoin(
                Member,
                and_(
                    Member.tenant_id == Membership.tenant_id,
                    Member.external_id == Membership.member_id,
                ),
            )
            .where(
                Membership.tenant_id == invite.tenant_id,
                Membership.source_code == invite.code,
                Membership.source_kind == "invite",
                Membership.community_id == invite.community_id,
            )
        )
        ordered = oldest_first(query, Membership.created_at, Membership.id, after, limit)
        rows = await self.session.execute(ordered.add_columns(Member.display_name))
        return [(row[0], row[1]) for row in rows]

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
