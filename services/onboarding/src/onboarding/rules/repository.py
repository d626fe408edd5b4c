"""Queries of rules (群规) and their acceptance: every lookup takes the tenant id."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Exists, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from onboarding.membership.states import SEATED
from onboarding.orm import Community, CommunityRules, Membership, RulesAcceptance
from onboarding.queries import After, oldest_first
from servicekit.db import insert_ignore

_SEATED = [str(status) for status in SEATED]


class RulesRepository:
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

    # acceptance, on the way in
    async def insert_acceptance_if_absent(
        self, tenant_id: str, community_id: str, member_id: str, version: int, at: datetime
    ) -> bool:
        values = {
            "tenant_id": tenant_id,
            "community_id": community_id,
            "member_id": member_id,
            "version": version,
            "accepted_at": at,
        }
        return await insert_ignore(self.session, RulesAcceptance.__table__, values)  # type: ignore[arg-type]

    async def clear_rules_mute(self, tenant_id: str, community_id: str, member_id: str) -> None:
        await self.session.execute(
            update(Membership)
            .where(
                Membership.tenant_id == tenant_id,
                Membership.community_id == community_id,
                Membership.member_id == member_id,
                Membership.rules_muted.is_(True),
            )
            .values(rules_muted=False)
        )
