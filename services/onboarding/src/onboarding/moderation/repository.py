"""Queries of rules (群规) and moderation: every lookup takes the tenant id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Exists, delete, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from onboarding.domain.memberships import SEATED
from onboarding.domain.moderation import SanctionKind, SanctionStatus
from onboarding.orm import (
    Appeal,
    Community,
    CommunityRules,
    Membership,
    ModerationLadder,
    Report,
    RulesAcceptance,
    Sanction,
    TenantBan,
)
from onboarding.repository import After, oldest_first
from servicekit.db import insert_ignore, where_given

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

    # rules
    async def rules_version(
        self, tenant_id: str, community_id: str, version: int
    ) -> CommunityRules | None:
        return await self.session.scalar(
            select(CommunityRules).where(
                CommunityRules.tenant_id == tenant_id,
                CommunityRules.community_id == community_id,
                CommunityRules.version == version,
            )
        )

    async def rules_page(
        self, tenant_id: str, community_id: str, after: After | None, limit: int
    ) -> Sequence[CommunityRules]:
        query = select(CommunityRules).where(
            CommunityRules.tenant_id == tenant_id, CommunityRules.community_id == community_id
        )
        ordered = oldest_first(query, CommunityRules.created_at, CommunityRules.id, after, limit)
        return (await self.session.scalars(ordered)).all()

    def _accepted(self, version: int) -> Exists:
        return exists().where(
            RulesAcceptance.tenant_id == Membership.tenant_id,
            RulesAcceptance.community_id == Membership.community_id,
            RulesAcceptance.member_id == Membership.member_id,
            RulesAcceptance.version >= version,
        )

    async def not_accepted(
        self, tenant_id: str, community_id: str, version: int, limit: int
    ) -> Sequence[Membership]:
        """Seated members not yet muted for the rules who have not accepted ``version``,
        locked: the next chunk of the grace period's end."""
        query = (
            select(Membership)
            .where(
                Membership.tenant_id == tenant_id,
                Membership.community_id == community_id,
                Membership.status.in_(_SEATED),
                Membership.rules_muted.is_(False),
                ~self._accepted(version),
            )
            .order_by(Membership.id)
            .limit(limit)
            .with_for_update()
        )
        return (await self.session.scalars(query)).all()

    async def accepted_among(
        self, tenant_id: str, community_id: str, version: int, member_ids: list[str]
    ) -> set[str]:
        rows = await self.session.scalars(
            select(RulesAcceptance.member_id).where(
                RulesAcceptance.tenant_id == tenant_id,
                RulesAcceptance.community_id == community_id,
                RulesAcceptance.version >= version,
                RulesAcceptance.member_id.in_(member_ids),
            )
        )
        return set(rows)

    async def pending_rules(
        self, tenant_id: str, member_id: str
    ) -> Sequence[tuple[Membership, Community, CommunityRules]]:
        """The member's seated memberships whose community's current rules they have not
        accepted, with those rules."""
        query = (
            select(Membership, Community, CommunityRules)
            .join(Community, Community.id == Membership.community_id)
            .join(
                CommunityRules,
                (CommunityRules.community_id == Community.id)
                & (CommunityRules.version == Community.rules_version),
            )
            .where(
                Membership.tenant_id == tenant_id,
                Membership.member_id == member_id,
                Membership.status.in_(_SEATED),
                ~exists().where(
                    RulesAcceptance.tenant_id == tenant_id,
                    RulesAcceptance.community_id == Community.id,
                    RulesAcceptance.member_id == member_id,
                    RulesAcceptance.version >= Community.rules_version,
                ),
            )
            .order_by(Membership.created_at, Membership.id)
        )
        return [(row[0], row[1], row[2]) for row in await self.session.execute(query)]

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
        values = {c.name: getattr(ban, c.key) for c in TenantBan.__table__.columns}
        return await insert_ignore(self.session, TenantBan.__table__, values)  # type: ignore[arg-type]

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
