"""Queries of seats by hand: the group asked for, a forced extra seat."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from onboarding.orm import Group


class SeatRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def group(self, tenant_id: str, community_id: str, group_id: str) -> Group | None:
        """The group, unlocked (the seat's conditional update is the guard) and fresh."""
        query = (
            select(Group)
            .where(
                Group.tenant_id == tenant_id,
                Group.community_id == community_id,
                Group.id == group_id,
            )
            .execution_options(populate_existing=True)
        )
        return await self.session.scalar(query)

    async def groups_of_kinds(
        self, tenant_id: str, community_id: str, kinds: frozenset[str]
    ) -> Sequence[Group]:
        query = select(Group).where(
            Group.tenant_id == tenant_id,
            Group.community_id == community_id,
            Group.kind.in_(sorted(kinds)),
        )
        return (await self.session.scalars(query.order_by(Group.created_at, Group.id))).all()

    async def grow_and_take(self, group: Group) -> None:
        """One more seat, taken at once (an operator's forced move into a full group): one
        statement, so no joiner can take the added seat first."""
        result = await self.session.execute(
            update(Group)
            .where(Group.id == group.id)
            .values(capacity=Group.capacity + 1, member_count=Group.member_count + 1)
            .returning(Group.capacity, Group.member_count)
            .execution_options(synchronize_session=False)
        )
        row = result.one()
        set_committed_value(group, "capacity", row.capacity)
        set_committed_value(group, "member_count", row.member_count)
