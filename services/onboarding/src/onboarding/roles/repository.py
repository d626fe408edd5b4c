"""Queries of community roles and the mentor rotation. Every lookup takes the tenant id."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from onboarding.membership.states import Status, holds_seat
from onboarding.orm import Application, Community, CommunityRole, Group, Membership, MentorRotation
from onboarding.queries import After, oldest_first
from onboarding.roles.domain import Mentor, MentorKey, Role
from servicekit.db import insert_ignore, where_given


class RoleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_community(self, tenant_id: str, community_id: str) -> Community | None:
        """The community row, locked until commit: grants in one community go one at a time
        (the guest speaker limit and "already granted" are then checked on settled rows).

        FOR NO KEY UPDATE: rows inserted meanwhile with a foreign key to the community (joins)
        only take a key-share lock, which this one does not block."""
        return await self.session.scalar(
            select(Community)
            .where(Community.tenant_id == tenant_id, Community.id == community_id)
            .with_for_update(key_share=True)
            .execution_options(populate_existing=True)
        )

    async def group(self, tenant_id: str, community_id: str, group_id: str) -> Group | None:
        return await self.session.scalar(
            select(Group).where(
                Group.tenant_id == tenant_id,
                Group.community_id == community_id,
                Group.id == group_id,
            )
        )

    async def seated(self, tenant_id: str, community_id: str, member_id: str) -> bool:
        """Does the member hold a seat (trial, active, muted) in the community? No lock."""
        status = await self.session.scalar(
            select(Membership.status).where(
                Membership.tenant_id == tenant_id,
                Membership.community_id == community_id,
                Membership.member_id == member_id,
            )
        )
        return status is not None and holds_seat(Status(status))

    async def application_community(self, tenant_id: str, application_id: str) -> str | None:
        return await self.session.scalar(
            select(Application.community_id).where(
                Application.tenant_id == tenant_id, Application.id == application_id
            )
        )

    async def grant(self, tenant_id: str, grant_id: str) -> CommunityRole | None:
        return await self.session.scalar(
            select(CommunityRole)
            .where(CommunityRole.tenant_id == tenant_id, CommunityRole.id == grant_id)
            .with_for_update()
        )

    async def active_roles(
        self, tenant_id: str, community_id: str, member_id: str
    ) -> Sequence[CommunityRole]:
        query = select(CommunityRole).where(
            CommunityRole.tenant_id == tenant_id,
            CommunityRole.community_id == community_id,
            CommunityRole.member_id == member_id,
            CommunityRole.revoked_at.is_(None),
        )
        return (await self.session.scalars(query.order_by(CommunityRole.granted_at))).all()

    async def active_count(self, tenant_id: str, community_id: str, role: Role) -> int:
        count = await self.session.scalar(
            select(func.count()).where(
                CommunityRole.tenant_id == tenant_id,
                CommunityRole.community_id == community_id,
                CommunityRole.role == role,
                CommunityRole.revoked_at.is_(None),
            )
        )
        return int(count or 0)

    async def page(
        self,
        tenant_id: str,
        *,
        community_id: str | None,
        member_id: str | None,
        role: Role | None,
        active_only: bool,
        after: After | None,
        limit: int,
    ) -> Sequence[CommunityRole]:
        """Oldest grant first, keyed by (granted_at, id)."""
        query = where_given(
            select(CommunityRole).where(CommunityRole.tenant_id == tenant_id),
            (CommunityRole.community_id, community_id),
            (CommunityRole.member_id, member_id),
            (CommunityRole.role, role),
        )
        if active_only:
            query = query.where(CommunityRole.revoked_at.is_(None))
        ordered = oldest_first(query, CommunityRole.granted_at, CommunityRole.id, after, limit)
        return (await self.session.scalars(ordered)).all()

    async def mentors(self, tenant_id: str, community_id: str) -> list[Mentor]:
        rows = await self.session.execute(
            select(CommunityRole.id, CommunityRole.granted_at, CommunityRole.member_id).where(
                CommunityRole.tenant_id == tenant_id,
                CommunityRole.community_id == community_id,
                CommunityRole.role == Role.MENTOR,
                CommunityRole.revoked_at.is_(None),
            )
        )
        return [Mentor(MentorKey(row.granted_at, row.id), row.member_id) for row in rows]

    async def lock_rotation(self, tenant_id: str, community_id: str) -> MentorRotation:
        """The community's rotation row (created on first use), locked until commit."""
        values = {
            "tenant_id": tenant_id,
            "community_id": community_id,
            "last_granted_at": None,
            "last_grant_id": None,
        }
        await insert_ignore(self.session, MentorRotation.__table__, values)  # type: ignore[arg-type]
        query = (
            select(MentorRotation)
            .where(
                MentorRotation.tenant_id == tenant_id,
                MentorRotation.community_id == community_id,
            )
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await self.session.scalars(query)).one()


def rotation_key(rotation: MentorRotation) -> MentorKey | None:
    if rotation.last_granted_at is None or rotation.last_grant_id is None:
        return None
    return MentorKey(rotation.last_granted_at, rotation.last_grant_id)
