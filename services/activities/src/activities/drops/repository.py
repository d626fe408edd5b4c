"""Queries of drops and their claims."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from activities.orm import drop_claims, drops
from servicekit.db import insert_ignore

# The one write that hands a share out: it takes the drop's row lock (PostgreSQL) and
# moves the count only while shares are left and the drop has not expired.
_TAKE = (
    sa.update(drops)
    .where(
        drops.c.tenant_id == sa.bindparam("b_tenant_id"),
        drops.c.id == sa.bindparam("b_drop_id"),
        drops.c.claimed < drops.c.slots,
        drops.c.expired_at.is_(None),
        drops.c.expires_at > sa.bindparam("b_now"),
    )
    .values(claimed=drops.c.claimed + 1)
    .returning(drops.c.claimed)
)


class DropRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: dict[str, Any]) -> None:
        await self.session.execute(sa.insert(drops), row)

    async def get(self, tenant_id: str, drop_id: str) -> Any:
        query = sa.select(drops).where(drops.c.tenant_id == tenant_id, drops.c.id == drop_id)
        return (await self.session.execute(query)).first()

    async def of_tenant(self, tenant_id: str, community_ids: list[str] | None) -> list[Any]:
        query = sa.select(drops).where(drops.c.tenant_id == tenant_id)
        if community_ids is not None:
            query = query.where(drops.c.community_id.in_(community_ids))
        query = query.order_by(drops.c.created_at.desc(), drops.c.id).limit(200)
        return list((await self.session.execute(query)).all())

    async def claimed_by(self, tenant_id: str, drop_id: str, member_id: str) -> bool:
        query = sa.select(drop_claims.c.slot).where(
            drop_claims.c.tenant_id == tenant_id,
            drop_claims.c.drop_id == drop_id,
            drop_claims.c.member_id == member_id,
        )
        return (await self.session.execute(query)).first() is not None

    async def take(self, tenant_id: str, drop_id: str, now: datetime) -> int | None:
        """The index of the share taken (0: the first), or None: none left, or expired."""
        params = {"b_tenant_id": tenant_id, "b_drop_id": drop_id, "b_now": now}
        taken = (await self.session.execute(_TAKE, params)).scalar()
        return None if taken is None else int(taken) - 1

    async def add_claim(self, row: dict[str, Any]) -> bool:
        """False when the member claimed already (the transaction must then roll back)."""
        return await insert_ignore(self.session, drop_claims, row)

    async def claims(self, tenant_id: str, drop_id: str) -> list[Any]:
        query = (
            sa.select(drop_claims)
            .where(drop_claims.c.tenant_id == tenant_id, drop_claims.c.drop_id == drop_id)
            .order_by(drop_claims.c.slot)
        )
        return list((await self.session.execute(query)).all())

    async def expire(self, tenant_id: str, drop_id: str, at: datetime) -> bool:
        """Once (it waits for claims in flight on PostgreSQL: the row lock)."""
        result = await self.session.execute(
            sa.update(drops)
            .where(
                drops.c.tenant_id == tenant_id,
                drops.c.id == drop_id,
                drops.c.expired_at.is_(None),
            )
            .values(expired_at=at)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def claimed_points(self, tenant_id: str, drop_id: str) -> tuple[int, int]:
        """(claims, points claimed)."""
        query = sa.select(
            sa.func.count(), sa.func.coalesce(sa.func.sum(drop_claims.c.points), 0)
        ).where(drop_claims.c.tenant_id == tenant_id, drop_claims.c.drop_id == drop_id)
        count, points = (await self.session.execute(query)).one()
        return int(count), int(points)

    async def set_returned(self, tenant_id: str, drop_id: str, points: int) -> None:
        await self.session.execute(
            sa.update(drops)
            .where(drops.c.tenant_id == tenant_id, drops.c.id == drop_id)
            .values(returned_points=points)
        )
