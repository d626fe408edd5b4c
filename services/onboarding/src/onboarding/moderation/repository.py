"""Queries of moderation (ladders, sanctions, reports, appeals, bans): every lookup takes
the tenant id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from onboarding.membership.states import SEATED
from onboarding.moderation.domain import SanctionKind, SanctionStatus
from onboarding.orm import (
    Appeal,
    Membership,
    ModerationLadder,
    Report,
    Sanction,
    TenantBan,
)
from onboarding.queries import After, insert_if_absent, oldest_first
from servicekit.db import where_given

_SEATED = [str(status) for status in SEATED]


@dataclass(frozen=True)
class ReportQuery:
    community_id: str | None = None
    status: str | None = None
    category: str | None = None
    target_id: str | None = None


@dataclass(frozen=True)
class SanctionQuery:
    community_id: str | None = None
    member_id: str | None = None
    kind: str | None = None
    status: str | None = None


class ModerationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # ladders
    async def ladder(self, tenant_id: str, community_id: str) -> ModerationLadder | None:
        return await self.session.scalar(
            select(ModerationLadder).where(
                ModerationLadder.tenant_id == tenant_id,
                ModerationLadder.community_id == community_id,
            )
        )

    # sanctions
    async def sanction(self, tenant_id: str, sanction_id: str) -> Sanction | None:
        return await self.session.scalar(
            select(Sanction)
            .where(Sanction.tenant_id == tenant_id, Sanction.id == sanction_id)
            .with_for_update()
        )

    async def last_issued_by(
        self, tenant_id: str, community_id: str, member_id: str, issued_by: str
    ) -> datetime | None:
        """When ``issued_by`` last sanctioned the member in the community (overturned or
        not: an overturned automatic strike still started its cooldown)."""
        return await self.session.scalar(
            select(func.max(Sanction.created_at)).where(
                Sanction.tenant_id == tenant_id,
                Sanction.community_id == community_id,
                Sanction.member_id == member_id,
                Sanction.issued_by == issued_by,
            )
        )

    async def strikes(self, tenant_id: str, community_id: str, member_id: str) -> list[datetime]:
        """When the member's earlier sanctions in the community were issued (overturned ones
        are no strikes)."""
        rows = await self.session.scalars(
            select(Sanction.created_at).where(
                Sanction.tenant_id == tenant_id,
                Sanction.community_id == community_id,
                Sanction.member_id == member_id,
                Sanction.status != SanctionStatus.OVERTURNED,
            )
        )
        return list(rows)

    async def longest_mute(self, membership_id: str) -> datetime | None:
        """The end of the longest mute still in force on the membership."""
        return await self.session.scalar(
            select(func.max(Sanction.ends_at)).where(
                Sanction.membership_id == membership_id,
                Sanction.kind == SanctionKind.MUTE,
                Sanction.status == SanctionStatus.ACTIVE,
            )
        )

    async def sanctions_page(
        self, tenant_id: str, where: SanctionQuery, after: After | None, limit: int
    ) -> Sequence[Sanction]:
        query = where_given(
            select(Sanction).where(Sanction.tenant_id == tenant_id),
            (Sanction.community_id, where.community_id),
            (Sanction.member_id, where.member_id),
            (Sanction.kind, where.kind),
            (Sanction.status, where.status),
        )
        ordered = oldest_first(query, Sanction.created_at, Sanction.id, after, limit)
        return (await self.session.scalars(ordered)).all()

    async def member_memberships(self, tenant_id: str, member_id: str) -> Sequence[Membership]:
        query = (
            select(Membership)
            .where(Membership.tenant_id == tenant_id, Membership.member_id == member_id)
            .order_by(Membership.created_at, Membership.id)
            .with_for_update()
        )
        return (await self.session.scalars(query)).all()

    async def add_tenant_ban(self, ban: TenantBan) -> bool:
        return await insert_if_absent(self.session, ban)

    async def drop_tenant_ban(self, tenant_id: str, sanction_id: str) -> None:
        await self.session.execute(
            delete(TenantBan).where(
                TenantBan.tenant_id == tenant_id, TenantBan.sanction_id == sanction_id
            )
        )

    # reports
    async def report(self, tenant_id: str, report_id: str) -> Report | None:
        return await self.session.scalar(
            select(Report)
            .where(Report.tenant_id == tenant_id, Report.id == report_id)
            .with_for_update()
        )

    async def open_report(self, tenant_id: str, open_key: str) -> Report | None:
        return await self.session.scalar(
            select(Report).where(Report.tenant_id == tenant_id, Report.open_key == open_key)
        )

    async def reports_page(
        self, tenant_id: str, where: ReportQuery, after: After | None, limit: int
    ) -> Sequence[Report]:
        """Oldest first: the queue is worked in the order members reported."""
        query = where_given(
            select(Report).where(Report.tenant_id == tenant_id),
            (Report.community_id, where.community_id),
            (Report.status, where.status),
            (Report.category, where.category),
            (Report.target_id, where.target_id),
        )
        ordered = oldest_first(query, Report.created_at, Report.id, after, limit)
        return (await self.session.scalars(ordered)).all()

    # appeals
    async def appeal(self, tenant_id: str, appeal_id: str) -> Appeal | None:
        return await self.session.scalar(
            select(Appeal)
            .where(Appeal.tenant_id == tenant_id, Appeal.id == appeal_id)
            .with_for_update()
        )

    async def appeal_of(self, sanction_id: str) -> Appeal | None:
        return await self.session.scalar(select(Appeal).where(Appeal.sanction_id == sanction_id))

    async def appeals_page(
        self,
        tenant_id: str,
        *,
        community_id: str | None,
        status: str | None,
        after: After | None,
        limit: int,
    ) -> Sequence[Appeal]:
        query = where_given(
            select(Appeal).where(Appeal.tenant_id == tenant_id),
            (Appeal.community_id, community_id),
            (Appeal.status, status),
        )
        ordered = oldest_first(query, Appeal.created_at, Appeal.id, after, limit)
        return (await self.session.scalars(ordered)).all()
