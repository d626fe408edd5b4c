"""Queries of the export: its projection (tenants, members, memberships) and its files."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.exports.domain import Balance, MembershipState, MemberState
from integrations.orm import (
    export_files,
    export_members,
    export_memberships,
    export_parts,
    export_tenants,
)
from servicekit.db import (
    dialect_insert,
    dialect_of,
    insert_for,
    insert_ignore,
    insert_ignore_statement,
    select_by_keys,
    upsert_statement,
)

# Read for every consumer batch: built once (building a statement and its cache key cost
# more than a small batch's execution, profiled during a join burst).
_MEMBERS_BY_KEY = select_by_keys(export_members, ("tenant_id", "member_id"))
_MEMBERSHIPS_BY_KEY = select_by_keys(export_memberships, ("tenant_id", "membership_id"))
_TENANTS = sa.select(export_tenants).where(
    export_tenants.c.tenant_id.in_(sa.bindparam("ids", expanding=True))
)

MemberKey = tuple[str, str]  # (tenant_id, member_id)
MembershipKey = tuple[str, str]  # (tenant_id, membership_id)

_MEMBER = (
    "display_name",
    "tags",
    "tags_at",
    "profile_at",
    "level",
    "level_name",
    "level_at",
    "available",
    "pending",
    "lifetime",
    "debt",
    "balance_at",
)
_MEMBERSHIP = (
    "member_id",
    "community_id",
    "status",
    "status_at",
    "tier",
    "tier_at",
    "activated_at",
    "expires_at",
    "term_at",
)


def member_state(row: sa.RowMapping) -> MemberState:
    balance = (
        None
        if row["balance_at"] is None
        else Balance(
            int(row["available"]), int(row["pending"]), int(row["lifetime"]), int(row["debt"])
        )
    )
    tags = row["tags"]
    return MemberState(
        display_name=row["display_name"],
        tags=tuple(tags) if isinstance(tags, list) else None,
        tags_at=row["tags_at"],
        profile_at=row["profile_at"],
        level=row["level"],
        level_name=row["level_name"],
        level_at=row["level_at"],
        balance=balance,
        balance_at=row["balance_at"],
    )


def _member_values(state: MemberState) -> dict[str, Any]:
    balance = state.balance
    return {
        "display_name": state.display_name,
        "tags": list(state.tags) if state.tags is not None else None,
        "tags_at": state.tags_at,
        "profile_at": state.profile_at,
        "level": state.level,
        "level_name": state.level_name,
        "level_at": state.level_at,
        "available": balance.available if balance else None,
        "pending": balance.pending if balance else None,
        "lifetime": balance.lifetime if balance else None,
        "debt": balance.debt if balance else None,
        "balance_at": state.balance_at,
    }


# A member's parts, each with the column of its time. The three topics that feed a member
# are read concurrently (another replica, another partition): each part is written only if
# it is not older than the stored one, so one run's write never undoes another's part.
_PARTS = {
    "profile_at": ("display_name",),
    "tags_at": ("tags",),
    "level_at": ("level", "level_name"),
    "balance_at": ("available", "pending", "lifetime", "debt"),
}


def _newer_parts(excluded: Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for at, columns in _PARTS.items():
        stored, given = export_members.c[at], excluded[at]
        newer = sa.and_(given.is_not(None), sa.or_(stored.is_(None), given >= stored))
        for name in (at, *columns):
            values[name] = sa.case((newer, excluded[name]), else_=export_members.c[name])
    return values


# The projection's two upserts, built once per backend: the member upsert's CASE
# expressions cost more to build than the executemany they drive (profiled in a join burst).
@functools.cache
def _members_upsert(backend: str) -> Any:
    insert = insert_for(backend, export_members)
    return insert.on_conflict_do_update(
        index_elements=[export_members.c.tenant_id, export_members.c.member_id],
        set_=_newer_parts(insert.excluded),
    )


def membership_state(row: sa.RowMapping) -> MembershipState:
    return MembershipState(**{name: row[name] for name in _MEMBERSHIP})


class ExportsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- the projection ---------------------------------------------------------------

    async def members(self, keys: Sequence[MemberKey]) -> dict[MemberKey, MemberState]:
        if not keys:
            return {}
        params = {"keys": sorted(set(keys))}
        rows = (await self.session.execute(_MEMBERS_BY_KEY, params)).mappings()
        return {(row["tenant_id"], row["member_id"]): member_state(row) for row in rows}

    async def save_members(self, states: dict[MemberKey, MemberState]) -> None:
        """Upsert in one executemany, keys in order (concurrent writers lock alike)."""
        if not states:
            return
        rows = [
            {"tenant_id": tenant_id, "member_id": member_id, **_member_values(state)}
            for (tenant_id, member_id), state in sorted(states.items())
        ]
        await self.session.execute(_members_upsert(dialect_of(self.session)), rows)

    async def know_members(self, keys: Sequence[MemberKey]) -> None:
        """A member heard of only through a membership gets a row (its columns empty until
        the directory's event): the export pages over members."""
        if not keys:
            return
        rows = [{"tenant_id": t, "member_id": m} for t, m in sorted(set(keys))]
        await self.session.execute(insert_ignore_statement(export_members), rows)

    async def memberships(
        self, keys: Sequence[MembershipKey]
    ) -> dict[MembershipKey, MembershipState]:
        if not keys:
            return {}
        params = {"keys": sorted(set(keys))}
        rows = (await self.session.execute(_MEMBERSHIPS_BY_KEY, params)).mappings()
        return {(row["tenant_id"], row["membership_id"]): membership_state(row) for row in rows}

    async def save_memberships(self, states: dict[MembershipKey, MembershipState]) -> None:
        if not states:
            return
        rows = [
            {
                "tenant_id": tenant_id,
                "membership_id": membership_id,
                **{name: getattr(state, name) for name in _MEMBERSHIP},
            }
            for (tenant_id, membership_id), state in sorted(states.items())
        ]
        key = ("tenant_id", "membership_id")
        upsert = upsert_statement(dialect_of(self.session), export_memberships, key, _MEMBERSHIP)
        await self.session.execute(upsert, rows)

    # --- tenants ------------------------------------------------------------------------

    async def tenants(self, tenant_ids: Sequence[str]) -> dict[str, sa.Row[Any]]:
        if not tenant_ids:
            return {}
        params = {"ids": sorted(set(tenant_ids))}
        return {row.tenant_id: row for row in (await self.session.execute(_TENANTS, params))}

    async def add_tenant(self, tenant_id: str, timezone: str) -> bool:
        """True when the row was added (not there before)."""
        values = {"tenant_id": tenant_id, "timezone": timezone, "zone_at": None, "next_key": None}
        return await insert_ignore(self.session, export_tenants, values)

    async def save_tenant(
        self, tenant_id: str, timezone: str, zone_at: datetime | None, next_key: str | None
    ) -> None:
        values = {"timezone": timezone, "zone_at": zone_at, "next_key": next_key}
        insert = dialect_insert(self.session, export_tenants).values(tenant_id=tenant_id, **values)
        upsert = insert.on_conflict_do_update(
            index_elements=[export_tenants.c.tenant_id], set_=values
        )
        await self.session.execute(upsert)

    async def set_next(self, tenant_id: str, next_key: str) -> None:
        await self.session.execute(
            sa.update(export_tenants)
            .where(export_tenants.c.tenant_id == tenant_id)
            .values(next_key=next_key)
        )

    # --- reading the projection for a file ---------------------------------------------

    async def member_page(self, tenant_id: str, after: str | None, limit: int) -> list[Any]:
        """The tenant's members after ``after`` (member id order: keyset, no OFFSET)."""
        query = sa.select(export_members).where(export_members.c.tenant_id == tenant_id)
        if after is not None:
            query = query.where(export_members.c.member_id > after)
        query = query.order_by(export_members.c.member_id).limit(limit)
        return list((await self.session.execute(query)).mappings().all())

    async def memberships_of(
        self, tenant_id: str, member_ids: Sequence[str]
    ) -> dict[str, list[tuple[str, MembershipState]]]:
        found: dict[str, list[tuple[str, MembershipState]]] = {}
        if not member_ids:
            return found
        query = sa.select(export_memberships).where(
            export_memberships.c.tenant_id == tenant_id,
            export_memberships.c.member_id.in_(list(member_ids)),
        )
        for row in (await self.session.execute(query)).mappings():
            found.setdefault(row["member_id"], []).append(
                (row["membership_id"], membership_state(row))
            )
        return found

    # --- files --------------------------------------------------------------------------

    async def add_file(self, values: dict[str, Any]) -> None:
        await self.session.execute(sa.insert(export_files).values(**values))

    async def file(self, tenant_id: str, export_id: str) -> Any:
        query = sa.select(export_files).where(
            export_files.c.tenant_id == tenant_id, export_files.c.id == export_id
        )
        return (await self.session.execute(query)).first()

    async def file_by_id(self, export_id: str) -> Any:
        query = sa.select(export_files).where(export_files.c.id == export_id)
        return (await self.session.execute(query)).first()

    async def files_page(
        self, tenant_id: str, before: tuple[datetime, str] | None, limit: int
    ) -> list[Any]:
        """Newest first; ``limit + 1`` rows (the extra one says more follow)."""
        query = sa.select(export_files).where(export_files.c.tenant_id == tenant_id)
        if before is not None:
            at, export_id = before
            query = query.where(
                sa.or_(
                    export_files.c.created_at < at,
                    sa.and_(export_files.c.created_at == at, export_files.c.id < export_id),
                )
            )
        query = query.order_by(export_files.c.created_at.desc(), export_files.c.id.desc())
        return list((await self.session.execute(query.limit(limit + 1))).all())

    async def add_part(self, export_id: str, part: int, content: str) -> None:
        values = {"export_id": export_id, "part": part, "content": content}
        await self.session.execute(sa.insert(export_parts).values(**values))

    async def part(self, export_id: str, part: int) -> str | None:
        query = sa.select(export_parts.c.content).where(
            export_parts.c.export_id == export_id, export_parts.c.part == part
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def finish(
        self, export_id: str, at: datetime, rows: int, parts: int, size_bytes: int
    ) -> None:
        await self.session.execute(
            sa.update(export_files)
            .where(export_files.c.id == export_id)
            .values(status="ready", finished_at=at, rows=rows, parts=parts, size_bytes=size_bytes)
        )
