"""Queries of the facts: written with unique keys (a fact lands once), read per community
and day range. Each fact row keeps its UTC instant and its local day."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from insights.communities.domain import local_day
from insights.figures.domain import (
    Engagement,
    EngagementKind,
    EngagementRow,
    MemberFact,
    MemberKind,
    MemberRow,
    MembershipState,
    PointsEntry,
    PointsRow,
    Source,
)
from insights.orm import engagements, membership_events, memberships, points, presence
from servicekit.db import ignore_conflicts, insert_many, overwrite_on_conflict, select_by_keys

_STATE = (
    "community_id",
    "member_id",
    "joined_at",
    "source_kind",
    "source_code",
    "channel",
    "active",
    "status_at",
)


def _state(row: sa.RowMapping) -> MembershipState:
    source = (
        Source(row["source_kind"], row["source_code"], row["channel"])
        if row["source_kind"] is not None
        else None
    )
    return MembershipState(
        row["community_id"],
        row["member_id"],
        row["joined_at"],
        source,
        row["active"],
        row["status_at"],
    )


class FactRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_member_facts(
        self, tenant_id: str, facts: Sequence[MemberFact], zones: dict[str, ZoneInfo]
    ) -> None:
        rows = [
            {
                "tenant_id": tenant_id,
                "membership_id": f.membership_id,
                "kind": f.kind.value,
                "at": f.at,
                "community_id": f.community_id,
                "member_id": f.member_id,
                "day": local_day(f.at, zones[f.community_id]),
            }
            for f in facts
        ]
        await self._insert_ignore(membership_events, rows)

    async def add_engagements(
        self, tenant_id: str, facts: Sequence[Engagement], zones: dict[str, ZoneInfo]
    ) -> None:
        rows = [
            {
                "tenant_id": tenant_id,
                "kind": e.kind.value,
                "ref": e.ref,
                "community_id": e.community_id,
                "member_id": e.member_id,
                "at": e.at,
                "day": local_day(e.at, zones[e.community_id]),
            }
            for e in facts
        ]
        await self._insert_ignore(engagements, rows)

    async def add_points(
        self, tenant_id: str, facts: Sequence[PointsEntry], zones: dict[str, ZoneInfo]
    ) -> None:
        rows = [
            {
                "tenant_id": tenant_id,
                "entry_key": p.entry_key,
                "community_id": p.community_id,
                "member_id": p.member_id,
                "earned": p.earned,
                "spent": p.spent,
                "at": p.at,
                "day": local_day(p.at, zones[p.community_id]),
            }
            for p in facts
        ]
        await self._insert_ignore(points, rows)

    async def _insert_ignore(self, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
        """One statement (PostgreSQL: unnest of an array per column), duplicates of a run
        merged first (one statement inserts a key once)."""
        key = [column.name for column in table.primary_key.columns]
        unique = list({tuple(row[name] for name in key): row for row in rows}.values())
        await insert_many(self.session, table, unique, conflict=ignore_conflicts)

    # --- memberships (channel and status) ------------------------------------------------

    async def memberships(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], MembershipState]:
        if not keys:
            return {}
        columns = ("tenant_id", "membership_id", *_STATE)
        query = select_by_keys(memberships, ("tenant_id", "membership_id"), columns)
        rows = (await self.session.execute(query, {"keys": sorted(set(keys))})).mappings()
        return {(row["tenant_id"], row["membership_id"]): _state(row) for row in rows}

    async def save_memberships(
        self, states: dict[tuple[str, str], MembershipState], zones: dict[str, ZoneInfo]
    ) -> None:
        if not states:
            return
        rows = []
        for (tenant_id, membership_id), s in sorted(states.items()):
            source = s.source
            rows.append(
                {
                    "tenant_id": tenant_id,
                    "membership_id": membership_id,
                    "community_id": s.community_id,
                    "member_id": s.member_id,
                    "joined_at": s.joined_at,
                    "join_day": (
                        local_day(s.joined_at, zones[s.community_id]) if s.joined_at else None
                    ),
                    "source_kind": source.kind if source else None,
                    "source_code": source.code if source else None,
                    "channel": source.channel if source else None,
                    "active": s.active,
                    "status_at": s.status_at,
                }
            )
        names = [name for name in rows[0] if name not in ("tenant_id", "membership_id")]
        await insert_many(
            self.session,
            memberships,
            rows,
            conflict=overwrite_on_conflict(("tenant_id", "membership_id"), tuple(names)),
        )

    # --- a zone changed: every fact of the community moves to its local day --------------

    async def rezone(self, tenant_id: str, community_id: str, tz: ZoneInfo) -> None:
        for table, keys, at_column, day_column in (
            (membership_events, ("membership_id", "kind", "at"), "at", "day"),
            (engagements, ("kind", "ref", "community_id"), "at", "day"),
            (points, ("entry_key",), "at", "day"),
            (memberships, ("membership_id",), "joined_at", "join_day"),
        ):
            key_columns = [table.c[name] for name in keys]
            query = sa.select(*key_columns, table.c[at_column], table.c[day_column]).where(
                table.c.tenant_id == tenant_id,
                table.c.community_id == community_id,
                table.c[at_column].is_not(None),
            )
            changes = []
            for row in (await self.session.execute(query)).all():
                *key, at, day = row
                moved = local_day(at, tz)
                if moved != day:
                    changes.append(
                        {**{f"k_{n}": v for n, v in zip(keys, key, strict=True)}, "new_day": moved}
                    )
            if changes:
                update = (
                    sa.update(table)
                    .where(
                        table.c.tenant_id == tenant_id,
                        *(table.c[n] == sa.bindparam(f"k_{n}") for n in keys),
                    )
                    .values({day_column: sa.bindparam("new_day")})
                )
                connection = await self.session.connection()
                await connection.execute(update, changes)

    # --- reads -----------------------------------------------------------------------------

    async def member_rows(self, tenant_id: str, community_id: str, last: date) -> list[MemberRow]:
        query = sa.select(
            membership_events.c.membership_id,
            membership_events.c.kind,
            membership_events.c.at,
            membership_events.c.day,
        ).where(
            membership_events.c.tenant_id == tenant_id,
            membership_events.c.community_id == community_id,
            membership_events.c.day <= last,
        )
        return [
            MemberRow(row.membership_id, MemberKind(row.kind), row.at, row.day)
            for row in (await self.session.execute(query)).all()
        ]

    async def engagement_rows(
        self, tenant_id: str, community_id: str, first: date, last: date
    ) -> list[EngagementRow]:
        query = sa.select(engagements.c.kind, engagements.c.member_id, engagements.c.day).where(
            engagements.c.tenant_id == tenant_id,
            engagements.c.community_id == community_id,
            engagements.c.day.between(first, last),
        )
        return [
            EngagementRow(EngagementKind(row.kind), row.member_id, row.day)
            for row in (await self.session.execute(query)).all()
        ]

    async def points_rows(
        self, tenant_id: str, community_id: str, first: date, last: date
    ) -> list[PointsRow]:
        query = sa.select(points.c.earned, points.c.spent, points.c.day).where(
            points.c.tenant_id == tenant_id,
            points.c.community_id == community_id,
            points.c.day.between(first, last),
        )
        return [PointsRow(*row) for row in (await self.session.execute(query)).all()]

    async def members_now(self, tenant_id: str, community_ids: Iterable[str]) -> dict[str, int]:
        query = (
            sa.select(memberships.c.community_id, sa.func.count())
            .where(
                memberships.c.tenant_id == tenant_id,
                memberships.c.community_id.in_(sorted(set(community_ids))),
                memberships.c.active.is_(True),
            )
            .group_by(memberships.c.community_id)
        )
        return {c: int(n) for c, n in (await self.session.execute(query)).all()}

    async def last_active(
        self, tenant_id: str, community_ids: Iterable[str], since: date
    ) -> dict[str, list[date]]:
        """Each member's last engagement day since ``since``, by community."""
        query = (
            sa.select(engagements.c.community_id, sa.func.max(engagements.c.day))
            .where(
                engagements.c.tenant_id == tenant_id,
                engagements.c.community_id.in_(sorted(set(community_ids))),
                engagements.c.day >= since,
            )
            .group_by(engagements.c.community_id, engagements.c.member_id)
        )
        found: dict[str, list[date]] = {}
        for community_id, day in (await self.session.execute(query)).all():
            found.setdefault(community_id, []).append(day)
        return found

    async def kind_counts(
        self, tenant_id: str, community_ids: Iterable[str], since: date
    ) -> dict[str, list[tuple[str, date, int]]]:
        """Member events since ``since`` by community: (kind, day, count)."""
        query = (
            sa.select(
                membership_events.c.community_id,
                membership_events.c.kind,
                membership_events.c.day,
                sa.func.count(),
            )
            .where(
                membership_events.c.tenant_id == tenant_id,
                membership_events.c.community_id.in_(sorted(set(community_ids))),
                membership_events.c.day >= since,
            )
            .group_by(
                membership_events.c.community_id,
                membership_events.c.kind,
                membership_events.c.day,
            )
        )
        found: dict[str, list[tuple[str, date, int]]] = {}
        for community_id, kind, day, n in (await self.session.execute(query)).all():
            found.setdefault(community_id, []).append((kind, day, int(n)))
        return found

    async def silent_counts(self, tenant_id: str, community_ids: Iterable[str]) -> dict[str, int]:
        query = (
            sa.select(presence.c.community_id, sa.func.count())
            .where(
                presence.c.tenant_id == tenant_id,
                presence.c.community_id.in_(sorted(set(community_ids))),
                presence.c.silent_since.is_not(None),
            )
            .group_by(presence.c.community_id)
        )
        return {c: int(n) for c, n in (await self.session.execute(query)).all()}
