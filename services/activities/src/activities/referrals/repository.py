"""Queries of referral campaigns, the invited joins and each inviter's progress."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from activities.orm import referral_campaigns as campaigns
from activities.orm import referral_joins as joins
from activities.orm import referral_progress as progress
from activities.referrals.domain import Join
from servicekit.db import dialect_insert, insert_ignore

MAX_DEPTH = 50  # how far up the invite chain a cycle is looked for

_J = joins.c
_P = progress.c
_JOIN = ("membership_id", "member_id", "inviter_id", "activated_at", "channel", "paid")


def join_of(row: Any) -> Join:
    return Join(
        membership_id=row.membership_id,
        member_id=row.member_id,
        inviter_id=row.inviter_id,
        activated_at=row.activated_at,
        channel=row.channel,
        paid=row.paid,
        window_ends_at=row.window_ends_at,
        refunded_at=row.refunded_at,
    )


class ReferralRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- joins ---------------------------------------------------------------------

    async def save_join(self, tenant_id: str, community_id: str, join: Join) -> None:
        """Upsert: a later activation of the membership (a trial paid) updates whether
        it is paid and its window; who invited stays the first one's."""
        values = {
            "tenant_id": tenant_id,
            "membership_id": join.membership_id,
            "community_id": community_id,
            "member_id": join.member_id,
            "inviter_id": join.inviter_id,
            "channel": join.channel,
            "activated_at": join.activated_at,
            "paid": join.paid,
            "window_ends_at": join.window_ends_at,
            "refunded_at": None,
        }
        insert = dialect_insert(self.session, joins).values(**values)
        await self.session.execute(
            insert.on_conflict_do_update(
                index_elements=[_J.tenant_id, _J.membership_id],
                set_={
                    "paid": insert.excluded.paid,
                    "window_ends_at": insert.excluded.window_ends_at,
                },
            )
        )

    async def join(self, tenant_id: str, membership_id: str) -> Any:
        query = sa.select(joins).where(_J.tenant_id == tenant_id, _J.membership_id == membership_id)
        return (await self.session.execute(query)).first()

    async def refund(self, tenant_id: str, membership_id: str, at: datetime) -> None:
        await self.session.execute(
            sa.update(joins)
            .where(_J.tenant_id == tenant_id, _J.membership_id == membership_id)
            .values(refunded_at=at)
        )

    async def joins_of(self, tenant_id: str, community_id: str, inviter_id: str) -> list[Join]:
        query = sa.select(joins).where(
            _J.tenant_id == tenant_id, _J.community_id == community_id, _J.inviter_id == inviter_id
        )
        return [join_of(row) for row in (await self.session.execute(query)).all()]

    async def invited_by(
        self, tenant_id: str, community_id: str, member_id: str
    ) -> dict[str, set[str]]:
        """Who invited ``member_id``, who invited them, ...: one query per level."""
        found: dict[str, set[str]] = {}
        frontier = {member_id}
        for _ in range(MAX_DEPTH):
            if not frontier:
                break
            query = sa.select(_J.member_id, _J.inviter_id).where(
                _J.tenant_id == tenant_id,
                _J.community_id == community_id,
                _J.member_id.in_(sorted(frontier)),
            )
            rows = (await self.session.execute(query)).all()
            for member, inviter in rows:
                found.setdefault(member, set()).add(inviter)
            frontier = {inviter for _, inviter in rows} - set(found)
        return found

    async def inviters(self, tenant_id: str, community_id: str, since: datetime) -> list[str]:
        query = (
            sa.select(_J.inviter_id)
            .where(
                _J.tenant_id == tenant_id,
                _J.community_id == community_id,
                _J.activated_at >= since,
            )
            .distinct()
        )
        return sorted(str(r) for r in (await self.session.execute(query)).scalars())

    # --- campaigns -----------------------------------------------------------------

    async def add(self, row: dict[str, Any]) -> None:
        await self.session.execute(sa.insert(campaigns), row)

    async def get(self, tenant_id: str, campaign_id: str) -> Any:
        query = sa.select(campaigns).where(
            campaigns.c.tenant_id == tenant_id, campaigns.c.id == campaign_id
        )
        return (await self.session.execute(query)).first()

    async def of_community(self, tenant_id: str, community_id: str, now: datetime) -> list[Any]:
        """The campaigns a join of the community may count in (started by ``now``)."""
        query = (
            sa.select(campaigns)
            .where(
                campaigns.c.tenant_id == tenant_id,
                campaigns.c.community_id == community_id,
                campaigns.c.starts_at <= now,
            )
            .order_by(campaigns.c.id)
        )
        return list((await self.session.execute(query)).all())

    async def of_tenant(self, tenant_id: str, community_ids: list[str] | None) -> list[Any]:
        query = sa.select(campaigns).where(campaigns.c.tenant_id == tenant_id)
        if community_ids is not None:
            query = query.where(campaigns.c.community_id.in_(community_ids))
        query = query.order_by(campaigns.c.created_at.desc(), campaigns.c.id).limit(200)
        return list((await self.session.execute(query)).all())

    # --- progress --------------------------------------------------------------------

    async def progress_locked(
        self, tenant_id: str, campaign_ids: Sequence[str], member_id: str, at: datetime
    ) -> dict[str, Any]:
        """The member's rows in these campaigns, created empty on first use and locked
        (PostgreSQL), so two evaluations of one inviter apply one at a time."""
        for campaign_id in campaign_ids:
            await insert_ignore(
                self.session,
                progress,
                {
                    "tenant_id": tenant_id,
                    "campaign_id": campaign_id,
                    "member_id": member_id,
                    "counted": 0,
                    "pending": 0,
                    "last_counted_at": None,
                    "converted": [],
                    "granted": [],
                    "grants": 0,
                    "flags": [],
                    "cleared_at": None,
                    "updated_at": at,
                },
            )
        query = (
            sa.select(progress)
            .where(
                _P.tenant_id == tenant_id,
                _P.campaign_id.in_(list(campaign_ids)),
                _P.member_id == member_id,
            )
            .order_by(_P.campaign_id)
            .with_for_update()
        )
        return {row.campaign_id: row for row in (await self.session.execute(query)).all()}

    async def save_progress(
        self, tenant_id: str, campaign_id: str, member_id: str, **values: Any
    ) -> None:
        await self.session.execute(
            sa.update(progress)
            .where(
                _P.tenant_id == tenant_id, _P.campaign_id == campaign_id, _P.member_id == member_id
            )
            .values(**values)
        )

    async def progress_of(self, tenant_id: str, campaign_id: str, member_id: str) -> Any:
        query = sa.select(progress).where(
            _P.tenant_id == tenant_id, _P.campaign_id == campaign_id, _P.member_id == member_id
        )
        return (await self.session.execute(query)).first()

    async def participants(self, tenant_id: str, campaign_id: str, limit: int) -> list[Any]:
        query = (
            sa.select(progress)
            .where(_P.tenant_id == tenant_id, _P.campaign_id == campaign_id)
            .order_by(_P.counted.desc(), _P.last_counted_at, _P.member_id)
            .limit(limit)
        )
        return list((await self.session.execute(query)).all())
