"""Queries of the membership projection (memberships and community zones)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from activities.members.domain import LevelFact, MembershipState, Status
from activities.orm import communities, levels, memberships
from servicekit.db import dialect_insert, dialect_of, select_by_keys, upsert_statement

_STATE = (
    "member_id",
    "community_id",
    "status",
    "status_at",
    "group_id",
    "placed_at",
    "tier",
    "tier_at",
)

_KEY = ("tenant_id", "membership_id")
_MEMBER_KEY = ("tenant_id", "member_id")
_OF_MEMBER = sa.select(*(memberships.c[name] for name in _STATE)).where(
    memberships.c.tenant_id == sa.bindparam("tenant_id"),
    memberships.c.member_id == sa.bindparam("member_id"),
    memberships.c.community_id == sa.bindparam("community_id"),
)
_COMMUNITY = sa.select(communities.c.timezone, communities.c.zone_at).where(
    communities.c.tenant_id == sa.bindparam("tenant_id"),
    communities.c.community_id == sa.bindparam("community_id"),
)


def _state(row: sa.RowMapping) -> MembershipState:
    values = {name: row[name] for name in _STATE}
    values["status"] = Status(row["status"])
    return MembershipState(**values)


class MembersRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def memberships(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], MembershipState]:
        """The rows of ``(tenant_id, membership_id)`` keys, in one statement."""
        if not keys:
            return {}
        query = select_by_keys(memberships, _KEY, ("tenant_id", "membership_id", *_STATE))
        rows = (await self.session.execute(query, {"keys": sorted(set(keys))})).mappings()
        return {(row["tenant_id"], row["membership_id"]): _state(row) for row in rows}

    async def save_memberships(self, states: dict[tuple[str, str], MembershipState]) -> None:
        """Upsert in one executemany."""
        if not states:
            return
        rows = []
        for (tenant_id, membership_id), state in sorted(states.items()):
            values = {name: getattr(state, name) for name in _STATE}
            values["status"] = state.status.value
            rows.append({"tenant_id": tenant_id, "membership_id": membership_id, **values})
        upsert = upsert_statement(dialect_of(self.session), memberships, _KEY, _STATE)
        await self.session.execute(upsert, rows)

    async def of_member(
        self, tenant_id: str, member_id: str, community_id: str
    ) -> list[MembershipState]:
        params = {"tenant_id": tenant_id, "member_id": member_id, "community_id": community_id}
        rows = (await self.session.execute(_OF_MEMBER, params)).mappings()
        return [_state(row) for row in rows]

    async def seats(self, tenant_id: str, member_id: str) -> list[MembershipState]:
        """Every membership of the member in the tenant."""
        query = sa.select(*memberships.c[_STATE]).where(
            memberships.c.tenant_id == tenant_id, memberships.c.member_id == member_id
        )
        return [_state(row) for row in (await self.session.execute(query)).mappings()]

    async def community(self, tenant_id: str, community_id: str) -> tuple[str, datetime] | None:
        """The community's ``(zone, when it was set)``; None: not announced to this tenant."""
        params = {"tenant_id": tenant_id, "community_id": community_id}
        row = (await self.session.execute(_COMMUNITY, params)).first()
        return None if row is None else (str(row.timezone), row.zone_at)

    async def save_community(
        self, tenant_id: str, community_id: str, timezone: str, at: datetime
    ) -> None:
        values = {"timezone": timezone, "zone_at": at}
        insert = dialect_insert(self.session, communities).values(
            tenant_id=tenant_id, community_id=community_id, **values
        )
        upsert = insert.on_conflict_do_update(
            index_elements=[communities.c.tenant_id, communities.c.community_id], set_=values
        )
        await self.session.execute(upsert)

    async def level(self, tenant_id: str, member_id: str) -> tuple[int, datetime] | None:
        """The member's ``(level, when it was set)``; None: no level change heard of."""
        known = (await self.levels([(tenant_id, member_id)])).get((tenant_id, member_id))
        return None if known is None else (known.level, known.at)

    async def levels(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], LevelFact]:
        """The known levels of ``(tenant_id, member_id)`` keys, in one statement."""
        if not keys:
            return {}
        query = select_by_keys(levels, _MEMBER_KEY)
        rows = await self.session.execute(query, {"keys": sorted(set(keys))})
        return {
            (row.tenant_id, row.member_id): LevelFact(row.member_id, int(row.level), row.level_at)
            for row in rows
        }

    async def save_levels(self, facts: dict[tuple[str, str], LevelFact]) -> None:
        """Upsert the members' levels in one executemany (keys in order)."""
        if not facts:
            return
        rows = [
            {"tenant_id": tenant_id, "member_id": member_id, "level": f.level, "level_at": f.at}
            for (tenant_id, member_id), f in sorted(facts.items())
        ]
        columns = ("level", "level_at")
        upsert = upsert_statement(dialect_of(self.session), levels, _MEMBER_KEY, columns)
        await self.session.execute(upsert, rows)
