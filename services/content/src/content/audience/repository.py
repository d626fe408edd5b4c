"""Queries of the audience projection."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from content.audience.domain import Level, MembershipState, Seat, Status, Viewer
from content.orm import communities, groups, member_levels, member_roles, memberships
from servicekit.db import (
    dialect_of,
    insert_ignore,
    select_by_keys,
    upsert_statement,
)

_STATE_COLUMNS = (
    "member_id",
    "community_id",
    "status",
    "status_at",
    "tier",
    "group_id",
    "placed_at",
    "muted_until",
    "rules_muted",
    "mute_at",
)
_ROW_COLUMNS = ("tenant_id", "membership_id", *_STATE_COLUMNS)

_SEATS = (
    sa.select(memberships, groups.c.kind.label("group_kind"))
    .select_from(
        memberships.outerjoin(
            groups,
            sa.and_(
                groups.c.tenant_id == memberships.c.tenant_id,
                groups.c.group_id == memberships.c.group_id,
            ),
        )
    )
    .where(
        memberships.c.tenant_id == sa.bindparam("tenant_id"),
        memberships.c.member_id == sa.bindparam("member_id"),
    )
    .order_by(memberships.c.community_id, memberships.c.membership_id)
)
_LEVEL = sa.select(member_levels.c.level, member_levels.c.changed_at).where(
    member_levels.c.tenant_id == sa.bindparam("tenant_id"),
    member_levels.c.member_id == sa.bindparam("member_id"),
)
_ROLES = sa.select(member_roles.c.community_id, member_roles.c.role).where(
    member_roles.c.tenant_id == sa.bindparam("tenant_id"),
    member_roles.c.member_id == sa.bindparam("member_id"),
)


class AudienceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def memberships(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], MembershipState]:
        """The rows of ``(tenant_id, membership_id)`` keys, in one statement."""
        if not keys:
            return {}
        query = select_by_keys(memberships, ("tenant_id", "membership_id"), _ROW_COLUMNS)
        return {
            (row["tenant_id"], row["membership_id"]): _state(row)
            for row in (await self.session.execute(query, {"keys": sorted(set(keys))})).mappings()
        }

    async def of_members(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], list[tuple[str, MembershipState]]]:
        """Every membership of the ``(tenant_id, member_id)`` keys, with its id, in one
        statement (a member's seats by the member index)."""
        if not keys:
            return {}
        query = select_by_keys(memberships, ("tenant_id", "member_id"), _ROW_COLUMNS)
        found: dict[tuple[str, str], list[tuple[str, MembershipState]]] = {}
        for row in (await self.session.execute(query, {"keys": sorted(set(keys))})).mappings():
            state = _state(row)
            found.setdefault((row["tenant_id"], state.member_id), []).append(
                (row["membership_id"], state)
            )
        return found

    async def save_memberships(self, states: dict[tuple[str, str], MembershipState]) -> None:
        """Upsert the rows in one executemany (one cached statement)."""
        if not states:
            return
        rows = []
        for (tenant_id, membership_id), state in sorted(states.items()):
            values = {name: getattr(state, name) for name in _STATE_COLUMNS}
            values["status"] = state.status.value
            rows.append({"tenant_id": tenant_id, "membership_id": membership_id, **values})
        key = ("tenant_id", "membership_id")
        upsert = upsert_statement(dialect_of(self.session), memberships, key, _STATE_COLUMNS)
        await self.session.execute(upsert, rows)

    async def levels(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Level]:
        """The levels of ``(tenant_id, member_id)`` keys, in one statement."""
        if not keys:
            return {}
        query = select_by_keys(member_levels, ("tenant_id", "member_id"))
        return {
            (row.tenant_id, row.member_id): Level(row.level, row.changed_at)
            for row in await self.session.execute(query, {"keys": sorted(set(keys))})
        }

    async def save_levels(self, levels: dict[tuple[str, str], Level]) -> None:
        """Upsert the rows in one executemany (one cached statement)."""
        if not levels:
            return
        rows = [
            {"tenant_id": tenant_id, "member_id": member_id, **asdict(level)}
            for (tenant_id, member_id), level in sorted(levels.items())
        ]
        key, columns = ("tenant_id", "member_id"), ("level", "changed_at")
        upsert = upsert_statement(dialect_of(self.session), member_levels, key, columns)
        await self.session.execute(upsert, rows)

    async def add_community(
        self,
        tenant_id: str,
        community_id: str,
        name: str,
        created_at: datetime,
        timezone: str | None = None,
    ) -> None:
        row = {
            "tenant_id": tenant_id,
            "community_id": community_id,
            "name": name,
            "created_at": created_at,
            "timezone": timezone,
            "timezone_at": created_at if timezone else None,
        }
        await insert_ignore(self.session, communities, row)

    async def set_timezone(
        self, tenant_id: str, community_id: str, timezone: str, at: datetime
    ) -> None:
        """The community's zone, unless a newer event already set it."""
        newer = sa.or_(communities.c.timezone_at.is_(None), communities.c.timezone_at <= at)
        await self.session.execute(
            sa.update(communities)
            .where(
                communities.c.tenant_id == tenant_id,
                communities.c.community_id == community_id,
                newer,
            )
            .values(timezone=timezone, timezone_at=at)
        )

    async def timezones(self, tenant_id: str, ids: Iterable[str]) -> dict[str, str | None]:
        """Each known community's zone (None: not announced)."""
        query = sa.select(communities.c.community_id, communities.c.timezone).where(
            communities.c.tenant_id == tenant_id, communities.c.community_id.in_(sorted(set(ids)))
        )
        return {str(cid): tz for cid, tz in (await self.session.execute(query)).all()}

    async def unknown_communities(self, tenant_id: str, ids: Iterable[str]) -> set[str]:
        """The ids among ``ids`` that are not communities of the tenant."""
        wanted = set(ids)
        if not wanted:
            return set()
        query = sa.select(communities.c.community_id).where(
            communities.c.tenant_id == tenant_id, communities.c.community_id.in_(sorted(wanted))
        )
        return wanted - set((await self.session.execute(query)).scalars())

    async def add_group(self, tenant_id: str, group_id: str, community_id: str, kind: str) -> None:
        row = {
            "tenant_id": tenant_id,
            "group_id": group_id,
            "community_id": community_id,
            "kind": kind,
        }
        await insert_ignore(self.session, groups, row)

    async def grant_role(
        self, tenant_id: str, grant_id: str, member_id: str, community_id: str, role: str
    ) -> None:
        row = {
            "tenant_id": tenant_id,
            "grant_id": grant_id,
            "member_id": member_id,
            "community_id": community_id,
            "role": role,
        }
        await insert_ignore(self.session, member_roles, row)

    async def revoke_role(self, tenant_id: str, grant_id: str) -> None:
        await self.session.execute(
            sa.delete(member_roles).where(
                member_roles.c.tenant_id == tenant_id, member_roles.c.grant_id == grant_id
            )
        )

    async def roles(self, tenant_id: str, member_id: str) -> set[tuple[str, str]]:
        """The member's ``(community_id, role)`` grants."""
        params = {"tenant_id": tenant_id, "member_id": member_id}
        return {(row.community_id, row.role) for row in await self.session.execute(_ROLES, params)}

    async def viewer(self, tenant_id: str, member_id: str) -> Viewer:
        """Everything the audience rules need about one member: three index reads."""
        params = {"tenant_id": tenant_id, "member_id": member_id}
        rows = (await self.session.execute(_SEATS, params)).mappings().all()
        level = (await self.session.execute(_LEVEL, params)).first()
        roles: dict[str, set[str]] = {}
        for row in (await self.session.execute(_ROLES, params)).all():
            roles.setdefault(row.community_id, set()).add(row.role)
        return Viewer(
            member_id,
            _seats(rows, roles),
            int(level.level) if level is not None else 1,
        )


def _state(row: sa.RowMapping) -> MembershipState:
    state = {name: row[name] for name in _STATE_COLUMNS}
    state["status"] = Status(row["status"])
    return MembershipState(**state)


def _seats(rows: Sequence[sa.RowMapping], roles: dict[str, set[str]]) -> tuple[Seat, ...]:
    return tuple(
        Seat(
            community_id=row["community_id"],
            status=Status(row["status"]),
            tier=row["tier"],
            group_kind=row["group_kind"],
            roles=frozenset(roles.get(row["community_id"], ())),
            muted_until=row["muted_until"],
            rules_muted=bool(row["rules_muted"]),
        )
        for row in rows
    )
