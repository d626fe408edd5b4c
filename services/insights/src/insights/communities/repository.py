"""Queries of the communities projection: zones, silence settings, community roles."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from insights.communities.domain import DEFAULT_ZONE, Grant
from insights.orm import communities, grants
from servicekit.db import dialect_insert, ignore_conflicts, insert_many


@dataclass(frozen=True)
class CommunityRow:
    community_id: str
    name: str | None
    timezone: str
    zone_at: datetime | None
    silent_after_days: int | None
    holdout_percent: int | None


_COLUMNS = (
    communities.c.community_id,
    communities.c.name,
    communities.c.timezone,
    communities.c.zone_at,
    communities.c.silent_after_days,
    communities.c.holdout_percent,
)


class CommunityRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of(self, tenant_id: str, community_ids: Iterable[str]) -> dict[str, CommunityRow]:
        """The known communities among ``community_ids``, in one statement."""
        wanted = sorted(set(community_ids))
        if not wanted:
            return {}
        query = sa.select(*_COLUMNS).where(
            communities.c.tenant_id == tenant_id, communities.c.community_id.in_(wanted)
        )
        rows = (await self.session.execute(query)).all()
        return {row.community_id: CommunityRow(*row) for row in rows}

    async def all(self, tenant_id: str) -> list[CommunityRow]:
        query = (
            sa.select(*_COLUMNS)
            .where(communities.c.tenant_id == tenant_id)
            .order_by(communities.c.community_id)
        )
        return [CommunityRow(*row) for row in (await self.session.execute(query)).all()]

    async def save_zone(
        self, tenant_id: str, community_id: str, name: str | None, timezone: str, at: datetime
    ) -> None:
        values = {"name": name, "timezone": timezone, "zone_at": at}
        insert = dialect_insert(self.session, communities).values(
            tenant_id=tenant_id, community_id=community_id, **values
        )
        upsert = insert.on_conflict_do_update(
            index_elements=[communities.c.tenant_id, communities.c.community_id], set_=values
        )
        await self.session.execute(upsert)

    async def ensure(self, tenant_id: str, community_ids: Iterable[str]) -> None:
        """Make communities known (in the default zone) that facts named before their own
        event arrived; a known one is left alone."""
        rows = [
            {"tenant_id": tenant_id, "community_id": c, "timezone": DEFAULT_ZONE}
            for c in sorted(set(community_ids))
            if c
        ]
        await insert_many(
            self.session,
            communities,
            rows,
            conflict=ignore_conflicts,
        )

    async def save_settings(
        self, tenant_id: str, community_id: str, silent_after_days: int, holdout_percent: int
    ) -> None:
        await self.session.execute(
            sa.update(communities)
            .where(communities.c.tenant_id == tenant_id, communities.c.community_id == community_id)
            .values(silent_after_days=silent_after_days, holdout_percent=holdout_percent)
        )

    async def grants(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Grant]:
        if not keys:
            return {}
        key = sa.tuple_(grants.c.tenant_id, grants.c.grant_id)
        query = sa.select(grants).where(key.in_(sorted(set(keys))))
        rows = (await self.session.execute(query)).mappings()
        return {
            (row["tenant_id"], row["grant_id"]): Grant(
                row["community_id"], row["member_id"], row["role"], row["active"], row["at"]
            )
            for row in rows
        }

    async def save_grants(self, states: dict[tuple[str, str], Grant]) -> None:
        if not states:
            return
        rows = [
            {
                "tenant_id": tenant_id,
                "grant_id": grant_id,
                "community_id": g.community_id,
                "member_id": g.member_id,
                "role": g.role,
                "active": g.active,
                "at": g.at,
            }
            for (tenant_id, grant_id), g in sorted(states.items())
        ]
        insert = dialect_insert(self.session, grants)
        names = ("community_id", "member_id", "role", "active", "at")
        upsert = insert.on_conflict_do_update(
            index_elements=[grants.c.tenant_id, grants.c.grant_id],
            set_={name: insert.excluded[name] for name in names},
        )
        await self.session.execute(upsert, rows)

    async def grants_of(self, tenant_id: str, member_id: str) -> list[Grant]:
        query = sa.select(
            grants.c.community_id, grants.c.member_id, grants.c.role, grants.c.active, grants.c.at
        ).where(grants.c.tenant_id == tenant_id, grants.c.member_id == member_id)
        return [Grant(*row) for row in (await self.session.execute(query)).all()]
