"""Reports: members report a member or an item; moderators resolve them (a sanction
that answers a report closes it as actioned)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from onboarding import events
from onboarding.audit import service as audit
from onboarding.audit.service import Actor
from onboarding.ids import new_id
from onboarding.membership import states as machine
from onboarding.membership.repository import Repository
from onboarding.membership.states import Status
from onboarding.moderation.authority import forbidden, moderated
from onboarding.moderation.domain import ReportStatus, ReportTarget
from onboarding.moderation.repository import ModerationRepository
from onboarding.orm import Community, Report
from onboarding.problems import conflict, unprocessable
from servicekit.auth import Principal
from servicekit.outbox import add_event
from servicekit.problems import not_found
from servicekit.types import utcnow


@dataclass(frozen=True)
class NewReport:
    target_kind: ReportTarget
    target_id: str
    category: str
    text: str | None = None


@dataclass(frozen=True)
class Filed:
    report: Report
    created: bool  # False: the reporter's open report on this target was returned


def _open_key(community_id: str, reporter_id: str, draft: NewReport) -> str:
    parts = [community_id, reporter_id, str(draft.target_kind), draft.target_id, draft.category]
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()


async def file_in(
    session: AsyncSession, tenant_id: str, reporter_id: str, community_id: str, draft: NewReport
) -> Filed:
    repo = Repository(session)
    community = await repo.community(tenant_id, community_id)
    mine = await repo.membership_of(tenant_id, community_id, reporter_id)
    if community is None or (community.visibility != "public" and mine is None):
        raise not_found("community")
    if mine is None or not machine.holds_seat(Status(mine.status)):
        raise forbidden("only members of the community report in it")
    if draft.target_kind is ReportTarget.MEMBER:
        if draft.target_id == reporter_id:
            raise unprocessable("self-report", "Self report", "members do not report themselves")
        if await repo.membership_of(tenant_id, community_id, draft.target_id) is None:
            raise not_found("member")
    key = _open_key(community_id, reporter_id, draft)
    mod = ModerationRepository(session)
    existing = await mod.open_report(tenant_id, key)
    if existing is not None:
        return Filed(existing, created=False)
    report = Report(
        id=new_id(),
        tenant_id=tenant_id,
        community_id=community_id,
        reporter_id=reporter_id,
        target_kind=draft.target_kind,
        target_id=draft.target_id,
        category=draft.category,
        text=draft.text,
        status=ReportStatus.OPEN,
        open_key=key,
        created_at=utcnow(),
    )
    session.add(report)
    await session.flush()
    await add_event(session, events.report_filed(report))
    return Filed(report, created=True)


async def open_report(mod: ModerationRepository, community: Community, report_id: str) -> Report:
    report = await mod.report(community.tenant_id, report_id)
    if report is None or report.community_id != community.id:
        raise not_found("report")
    if report.status != ReportStatus.OPEN:
        raise conflict("report-resolved", "Report resolved", f"the report is {report.status}")
    return report


def close_report(
    report: Report,
    status: ReportStatus,
    actor: Actor,
    note: str | None,
    now: datetime,
    sanction_id: str | None,
) -> None:
    report.status = status
    report.open_key = None  # a new report on the same target may be filed again
    report.resolved_by, report.resolution, report.resolved_at = actor.id, note, now
    report.sanction_id = sanction_id


async def resolve_in(
    session: AsyncSession,
    principal: Principal,
    report_id: str,
    outcome: ReportStatus,
    note: str | None,
    sanction_id: str | None,
) -> Report:
    mod = ModerationRepository(session)
    report = await mod.report(principal.tenant_id, report_id)
    if report is None:
        raise not_found("report")
    community, actor = await moderated(session, principal, report.community_id)
    report = await open_report(mod, community, report.id)
    if sanction_id is not None:
        sanction = await mod.sanction(principal.tenant_id, sanction_id)
        if sanction is None or sanction.community_id != report.community_id:
            raise not_found("sanction")
    close_report(report, outcome, actor, note, utcnow(), sanction_id)
    await audit.record(
        session,
        report.tenant_id,
        actor,
        f"report.{outcome}",
        target_kind="report",
        target_id=report.id,
        community_id=report.community_id,
        reason=note,
        details={"sanction_id": sanction_id, "target_id": report.target_id},
    )
    return report
