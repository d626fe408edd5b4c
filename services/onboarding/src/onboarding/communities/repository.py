"""Queries of communities and their groups: every lookup takes the tenant id. (A community
by id, which every way in needs, is the Membership aggregate's: membership/repository.py.)"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from onboarding.orm import Community, Group, Membership
from onboarding.queries import After, oldest_first


class CommunityRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def communities_page(
        self, tenant_id: str, *, visible_to: str | None, after: After | None, limit: int
    ) -> Sequence[Community]:
        """All of the tenant's communities, or (``visible_to`` a member) public ones + theirs."""
        query = select(Community).where(Community.tenant_id == tenant_id)
        if visible_to is not None:
            theirs = select(Membership.community_id).where(
                Membership.tenant_id == tenant_id, Membership.member_id == visible_to
            )
            query = query.where(or_(Community.visibility == "public", Community.id.in_(theirs)))
        ordered = oldest_first(query, Community.created_at, Community.id, after, limit)
        return (await self.session.scalars(ordered)).all()

    # groups
    async def groups(self, tenant_id: str, community_id: str) -> Sequence[Group]:
        query = select(Group).where(
            Group.tenant_id == tenant_id, Group.community_id == community_id
        )
        return (await self.session.scalars(query.order_by(Group.created_at, Group.id))).all()

    async def groups_page(
        self, tenant_id: str, community_id: str, *, after: After | None, limit: int
    ) -> Sequence[Group]:
        query = select(Group).where(
            Group.tenant_id == tenant_id, Group.community_id == community_id
        )
        ordered = oldest_first(query, Group.created_at, Group.id, after, limit)
        return (await self.session.scalars(ordered)).all()

    async def group(self, tenant_id: str, community_id: str, group_id: str) -> Group | None:
        return await self.session.scalar(
            select(Group)
            .where(
                Group.tenant_id == tenant_id,
                Group.community_id == community_id,
                Group.id == group_id,
            )
            .with_for_update()
            .execution_options(populate_existing=True)
        )

    async def set_capacity(self, group_id: str, capacity: int) -> bool:
        """Conditional: never below the members seated now (False then)."""
        result = await self.session.execute(
            update(Group)
            .where(Group.id == group_id, Group.member_count <= capacity)
            .values(capacity=capacity)
            .returning(Group.id)
            .execution_options(synchronize_session=False)
        )
        return result.first() is not None
