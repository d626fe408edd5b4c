"""Queries of presence and silences."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from insights.orm import presence, silences
from insights.silence.domain import Presence
from servicekit.db import dialect_insert, insert_many, overwrite_on_conflict
from servicekit.types import UtcDateTime

Key = tuple[str, str, str]  # tenant, community, member


class SilenceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def presences(self, keys: Sequence[Key]) -> dict[Key, Presence]:
        """The presences of ``keys``: per tenant one statement on the primary key (the
        communities and members named, the pairs not asked for dropped here)."""
        wanted = set(keys)
        found: dict[Key, Presence] = {}
        for tenant_id in sorted({key[0] for key in wanted}):
            mine = [key for key in wanted if key[0] == tenant_id]
            query = sa.select(presence).where(
                presence.c.tenant_id == tenant_id,
                presence.c.community_id.in_(sorted({key[1] for key in mine})),
                presence.c.member_id.in_(sorted({key[2] for key in mine})),
            )
            for row in (await self.session.execute(query)).mappings():
                key = (row["tenant_id"], row["community_id"], row["member_id"])
                if key in wanted:
                    found[key] = Presence(
                        row["last_engaged_at"], row["active"], row["silent_since"]
                    )
        return found

    async def save_presences(self, states: dict[Key, Presence]) -> None:
        if not states:
            return
        rows = [
            {
                "tenant_id": t,
                "community_id": c,
                "member_id": m,
                "last_engaged_at": p.last_engaged_at,
                "active": p.active,
                "silent_since": p.silent_since,
            }
            for (t, c, m), p in sorted(states.items())
        ]
        names = ("last_engaged_at", "active", "silent_since")
        await insert_many(
            self.session,
            presence,
            rows,
            conflict=overwrite_on_conflict(("tenant_id", "community_id", "member_id"), names),
        )

    async def add_silence(self, key: Key, since: datetime, held_out: bool) -> bool:
        tenant_id, community_id, member_id = key
        values = {
            "tenant_id": tenant_id,
            "community_id": community_id,
            "member_id": member_id,
            "silent_since": since,
            "held_out": held_out,
            "reactivated_at": None,
        }
        insert = dialect_insert(self.session, silences).on_conflict_do_nothing()
        result = await self.session.execute(insert, [values])
        return bool(getattr(result, "rowcount", 0) == 1)

    async def silence(self, key: Key, since: datetime) -> tuple[bool, datetime | None] | None:
        """(held out, reactivated at) of the silence that began at ``since``."""
        tenant_id, community_id, member_id = key
        query = sa.select(silences.c.held_out, silences.c.reactivated_at).where(
            silences.c.tenant_id == tenant_id,
            silences.c.community_id == community_id,
            silences.c.member_id == member_id,
            silences.c.silent_since == since,
        )
        row = (await self.session.execute(query)).first()
        return None if row is None else (bool(row[0]), row[1])

    async def mark_reactivated(self, key: Key, since: datetime, at: datetime) -> None:
        tenant_id, community_id, member_id = key
        await self.session.execute(
            sa.update(silences)
            .where(
                silences.c.tenant_id == tenant_id,
                silences.c.community_id == community_id,
                silences.c.member_id == member_id,
                silences.c.silent_since == since,
                sa.or_(silences.c.reactivated_at.is_(None), silences.c.reactivated_at > at),
            )
            .values(reactivated_at=at)
        )

    async def silent_page(
        self,
        tenant_id: str,
        community_ids: Sequence[str],
        after: tuple[datetime, str, str] | None,
        limit: int,
    ) -> list[tuple[str, str, datetime, datetime, bool]]:
        """Silent members, longest silent first, keyed by (since, community, member)."""
        query = (
            sa.select(
                presence.c.community_id,
                presence.c.member_id,
                presence.c.silent_since,
                presence.c.last_engaged_at,
                silences.c.held_out,
            )
            .join(
                silences,
                sa.and_(
                    silences.c.tenant_id == presence.c.tenant_id,
                    silences.c.community_id == presence.c.community_id,
                    silences.c.member_id == presence.c.member_id,
                    silences.c.silent_since == presence.c.silent_since,
                ),
            )
            .where(
                presence.c.tenant_id == tenant_id,
                presence.c.community_id.in_(sorted(set(community_ids))),
                presence.c.silent_since.is_not(None),
            )
            .order_by(presence.c.silent_since, presence.c.community_id, presence.c.member_id)
            .limit(limit + 1)
        )
        if after is not None:
            key = sa.tuple_(presence.c.silent_since, presence.c.community_id, presence.c.member_id)
            since, community_id, member_id = after
            bound = sa.tuple_(
                sa.literal(since, UtcDateTime), sa.literal(community_id), sa.literal(member_id)
            )
            query = query.where(key > bound)
        return [
            (c, m, since, last, bool(held))
            for c, m, since, last, held in (await self.session.execute(query)).all()
        ]

    async def episodes(
        self, tenant_id: str, community_ids: Sequence[str], start: datetime, end: datetime
    ) -> list[tuple[str, bool, bool]]:
        """(community, held out, reactivated) of the silences that began in [start, end)."""
        query = sa.select(
            silences.c.community_id, silences.c.held_out, silences.c.reactivated_at.is_not(None)
        ).where(
            silences.c.tenant_id == tenant_id,
            silences.c.community_id.in_(sorted(set(community_ids))),
            silences.c.silent_since >= start,
            silences.c.silent_since < end,
        )
        return [(c, bool(h), bool(r)) for c, h, r in (await self.session.execute(query)).all()]

    async def watched(self, tenant_id: str, community_id: str) -> list[tuple[str, datetime]]:
        """(member, last engaged) of the community's active members not silent yet."""
        query = sa.select(presence.c.member_id, presence.c.last_engaged_at).where(
            presence.c.tenant_id == tenant_id,
            presence.c.community_id == community_id,
            presence.c.active.is_(True),
            presence.c.silent_since.is_(None),
        )
        return [(m, at) for m, at in (await self.session.execute(query)).all()]
