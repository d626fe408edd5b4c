"""Use cases of moderation: reports → queue, sanctions on the ladder, appeals.

Each use case is one transaction here; what it decides lives with its subject:
``sanctions`` (the ladder's next step, mutes, removals, bans, lifting, overturning),
``reports`` (filing, one open report per reporter and target, resolving), ``appeals``
(once per sanction, upheld or overturned), ``authority`` (who may moderate where) and
``ladders`` (a community's ladder as stored). Every moderator action is in the audit log,
written in the action's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from onboarding.audit import service as audit
from onboarding.moderation.appeals import appeal_exists, appeal_in, decide_in
from onboarding.moderation.authority import moderated, queue_scope
from onboarding.moderation.domain import Ladder, ReportStatus
from onboarding.moderation.ladders import ladder_of, steps_json
from onboarding.moderation.reports import Filed, NewReport, file_in, resolve_in
from onboarding.moderation.repository import ModerationRepository, ReportQuery, SanctionQuery
from onboarding.moderation.sanctions import NewSanction, issue_in, lift_in
from onboarding.orm import Appeal, ModerationLadder, Report, Sanction
from onboarding.permissions import Permission
from onboarding.queries import After
from servicekit.auth import Principal
from servicekit.db import read_only, transaction
from servicekit.problems import not_found
from servicekit.types import utcnow


@dataclass(frozen=True)
class LadderView:
    ladder: Ladder
    default: bool  # the community has not configured its own


class Moderation:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    # ------------------------------------------------------------------ ladder

    async def ladder(self, principal: Principal, community_id: str) -> LadderView:
        async with read_only(self.sessions) as session:
            community, _ = await moderated(session, principal, community_id)
            row = await ModerationRepository(session).ladder(community.tenant_id, community.id)
        return LadderView(ladder_of(row), default=row is None)

    async def set_ladder(self, principal: Principal, community_id: str, ladder: Ladder) -> Ladder:
        async with transaction(self.sessions) as session:
            community, actor = await moderated(
                session, principal, community_id, Permission.MANAGE_COMMUNITY
            )
            row = await ModerationRepository(session).ladder(community.tenant_id, community.id)
            if row is None:
                row = ModerationLadder(community_id=community.id, tenant_id=community.tenant_id)
                session.add(row)
            row.steps = steps_json(ladder)
            row.strike_decay_days = ladder.strike_decay // timedelta(days=1)
            row.updated_by, row.updated_at = actor.id, utcnow()
            await audit.record(
                session,
                community.tenant_id,
                actor,
                "ladder.updated",
                target_kind="community",
                target_id=community.id,
                community_id=community.id,
                details={"steps": row.steps, "strike_decay_days": row.strike_decay_days},
            )
        return ladder

    # --------------------------------------------------------------- sanctions

    async def issue(self, principal: Principal, community_id: str, draft: NewSanction) -> Sanction:
        async with transaction(self.sessions) as session:
            return await issue_in(session, principal, community_id, draft)

    async def sanctions(
        self, principal: Principal, where: SanctionQuery, after: After | None, limit: int
    ) -> Sequence[Sanction]:
        async with read_only(self.sessions) as session:
            await queue_scope(session, principal, where.community_id)
            return await ModerationRepository(session).sanctions_page(
                principal.tenant_id, where, after, limit
            )

    async def my_sanctions(
        self, tenant_id: str, member_id: str, after: After | None, limit: int
    ) -> Sequence[Sanction]:
        async with read_only(self.sessions) as session:
            where = SanctionQuery(member_id=member_id)
            return await ModerationRepository(session).sanctions_page(
                tenant_id, where, after, limit
            )

    async def sanction(self, principal: Principal, sanction_id: str) -> Sanction:
        async with read_only(self.sessions) as session:
            sanction = await ModerationRepository(session).sanction(
                principal.tenant_id, sanction_id
            )
            if sanction is None:
                raise not_found("sanction")
            await moderated(session, principal, sanction.community_id)
            return sanction

    async def lift(self, principal: Principal, sanction_id: str, reason: str) -> Sanction:
        """End a running mute early, or lift a ban (→ left: the member may join again). The
        sanction stays a strike; only an overturned appeal removes it."""
        async with transaction(self.sessions) as session:
            return await lift_in(session, principal, sanction_id, reason)

    # ----------------------------------------------------------------- reports

    async def file_report(
        self, tenant_id: str, reporter_id: str, community_id: str, draft: NewReport
    ) -> Filed:
        # Two identical reports at once collide on the open key: the retry returns the first.
        for attempt in (1, 2):
            try:
                async with transaction(self.sessions) as session:
                    return await file_in(session, tenant_id, reporter_id, community_id, draft)
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def reports(
        self, principal: Principal, where: ReportQuery, after: After | None, limit: int
    ) -> Sequence[Report]:
        async with read_only(self.sessions) as session:
            await queue_scope(session, principal, where.community_id)
            return await ModerationRepository(session).reports_page(
                principal.tenant_id, where, after, limit
            )

    async def report(self, principal: Principal, report_id: str) -> Report:
        async with read_only(self.sessions) as session:
            report = await ModerationRepository(session).report(principal.tenant_id, report_id)
            if report is None:
                raise not_found("report")
            await moderated(session, principal, report.community_id)
            return report

    async def resolve(
        self,
        principal: Principal,
        report_id: str,
        outcome: ReportStatus,
        note: str | None,
        sanction_id: str | None,
    ) -> Report:
        async with transaction(self.sessions) as session:
            return await resolve_in(session, principal, report_id, outcome, note, sanction_id)

    # ----------------------------------------------------------------- appeals

    async def appeal(self, tenant_id: str, member_id: str, sanction_id: str, text: str) -> Appeal:
        """The sanctioned member appeals, once per sanction."""
        try:
            async with transaction(self.sessions) as session:
                return await appeal_in(session, tenant_id, member_id, sanction_id, text)
        except IntegrityError as error:
            raise appeal_exists() from error

    async def appeals(
        self,
        principal: Principal,
        *,
        community_id: str | None,
        status: str | None,
        after: After | None,
        limit: int,
    ) -> Sequence[Appeal]:
        async with read_only(self.sessions) as session:
            await queue_scope(session, principal, community_id)
            return await ModerationRepository(session).appeals_page(
                principal.tenant_id,
                community_id=community_id,
                status=status,
                after=after,
                limit=limit,
            )

    async def decide(
        self, principal: Principal, appeal_id: str, *, overturn: bool, reason: str
    ) -> Appeal:
        async with transaction(self.sessions) as session:
            return await decide_in(session, principal, appeal_id, overturn, reason)
