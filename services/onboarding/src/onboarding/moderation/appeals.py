"""Appeals: the sanctioned member appeals once; a moderator upholds or overturns (an
overturn undoes what the sanction still does, see ``sanctions.overturn_sanction``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from onboarding import events
from onboarding.audit import service as audit
from onboarding.ids import new_id
from onboarding.moderation.authority import moderated, tenant_operator
from onboarding.moderation.domain import AppealStatus
from onboarding.moderation.repository import ModerationRepository
from onboarding.moderation.sanctions import overturn_sanction
from onboarding.orm import Appeal
from onboarding.problems import conflict
from servicekit.auth import Principal
from servicekit.outbox import add_event
from servicekit.problems import Problem, not_found
from servicekit.types import utcnow


def appeal_exists() -> Problem:
    return conflict("appeal-exists", "Already appealed", "a sanction is appealed once")


async def appeal_in(
    session: AsyncSession, tenant_id: str, member_id: str, sanction_id: str, text: str
) -> Appeal:
    mod = ModerationRepository(session)
    sanction = await mod.sanction(tenant_id, sanction_id)
    if sanction is None or sanction.member_id != member_id:
        raise not_found("sanction")  # another member's sanction is none of their business
    if await mod.appeal_of(sanction.id) is not None:
        raise appeal_exists()
    appeal = Appeal(
        id=new_id(),
        tenant_id=tenant_id,
        community_id=sanction.community_id,
        sanction_id=sanction.id,
        member_id=member_id,
        text=text,
        status=AppealStatus.PENDING,
        created_at=utcnow(),
    )
    session.add(appeal)
    await session.flush()
    return appeal


async def decide_in(
    session: AsyncSession, principal: Principal, appeal_id: str, overturn: bool, reason: str
) -> Appeal:
    mod = ModerationRepository(session)
    appeal = await mod.appeal(principal.tenant_id, appeal_id)
    if appeal is None:
        raise not_found("appeal")
    _, actor = await moderated(session, principal, appeal.community_id)
    sanction = await mod.sanction(principal.tenant_id, appeal.sanction_id)
    assert sanction is not None
    if sanction.tenant_wide and overturn:
        tenant_operator(principal)
    if appeal.status != AppealStatus.PENDING:
        raise conflict("appeal-decided", "Already decided", f"the appeal was {appeal.status}")
    appeal.status = AppealStatus.OVERTURNED if overturn else AppealStatus.UPHELD
    appeal.decided_by, appeal.reason, appeal.decided_at = actor.id, reason, utcnow()
    if overturn:
        await overturn_sanction(session, sanction, actor, reason)
    await add_event(session, events.appeal_decided(appeal))
    await audit.record(
        session,
        appeal.tenant_id,
        actor,
        f"appeal.{appeal.status}",
        target_kind="appeal",
        target_id=appeal.id,
        community_id=appeal.community_id,
        reason=reason,
        details={"sanction_id": sanction.id, "member_id": sanction.member_id},
    )
    return appeal
