"""Use cases of moderation: reports → queue, sanctions on the ladder, appeals.

Sanctions: warning, mute (until a time, ended by the ``sanction.mute_end`` timer), removal,
ban (optionally across the tenant). Without an explicit kind the community's ladder picks the
next step from the member's strikes (every sanction not overturned). An overturned appeal
restores what the sanction changed. Every moderator action is in the audit log, written in
the action's transaction.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from onboarding import events
from onboarding.audit import service as audit
from onboarding.audit.service import Actor
from onboarding.ids import new_id
from onboarding.joins import seating
from onboarding.joins.seating import claim_seat
from onboarding.membership import states as machine
from onboarding.membership.repository import Repository
from onboarding.membership.service import ENDED, move, settle_mute
from onboarding.membership.states import Status
from onboarding.moderation.domain import (
    DEFAULT_LADDER,
    AppealStatus,
    Ladder,
    MuteReasons,
    ReportStatus,
    ReportTarget,
    SanctionKind,
    SanctionStatus,
    Step,
    auto_strike_due,
    restored_status,
    unmuted_status,
)
from onboarding.moderation.repository import ModerationRepository, ReportQuery, SanctionQuery
from onboarding.orm import (
    Appeal,
    Community,
    Membership,
    ModerationLadder,
    Report,
    Sanction,
    TenantBan,
)
from onboarding.payments.timers import schedule_expiry
from onboarding.permissions import Permission, authorize, is_tenant_operator
from onboarding.problems import conflict, unprocessable
from onboarding.queries import After
from servicekit.auth import Principal
from servicekit.db import read_only, transaction
from servicekit.outbox import add_event
from servicekit.problems import Problem, not_found
from servicekit.timers import Timer, cancel, schedule
from servicekit.types import utcnow

MUTE_END_TIMER = "sanction.mute_end"
# Who issues the strikes content's auto-moderation reports (the sanctions' ``issued_by``).
AUTOMOD = Actor("content:automod", "system")


@dataclass(frozen=True)
class NewSanction:
    member_id: str
    reason: str
    kind: SanctionKind | None = None  # None: the next step of the community's ladder
    duration: timedelta | None = None  # an explicit mute's length
    tenant_wide: bool = False  # a ban in every community of the tenant
    report_id: str | None = None  # the report this answers (it is closed as actioned)


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


@dataclass(frozen=True)
class LadderView:
    ladder: Ladder
    default: bool  # the community has not configured its own


def forbidden(detail: str) -> Problem:
    return Problem(403, "forbidden", "Forbidden", detail)


def ladder_of(row: ModerationLadder | None) -> Ladder:
    if row is None:
        return DEFAULT_LADDER
    steps = tuple(
        Step(SanctionKind(step["kind"]), _hours(step.get("duration_hours"))) for step in row.steps
    )
    return Ladder(steps, timedelta(days=row.strike_decay_days))


def _hours(value: Any) -> timedelta | None:
    return timedelta(hours=int(value)) if value else None


def steps_json(ladder: Ladder) -> list[dict[str, Any]]:
    return [
        {
            "kind": str(step.kind),
            "duration_hours": step.duration // timedelta(hours=1) if step.duration else None,
        }
        for step in ladder.steps
    ]


class Moderation:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    # ------------------------------------------------------------------ ladder

    async def ladder(self, principal: Principal, community_id: str) -> LadderView:
        async with read_only(self.sessions) as session:
            community, _ = await _moderated(session, principal, community_id)
            row = await ModerationRepository(session).ladder(community.tenant_id, community.id)
        return LadderView(ladder_of(row), default=row is None)

    async def set_ladder(self, principal: Principal, community_id: str, ladder: Ladder) -> Ladder:
        async with transaction(self.sessions) as session:
            community, actor = await _moderated(
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
            return await _issue_in(session, principal, community_id, draft)

    async def sanctions(
        self, principal: Principal, where: SanctionQuery, after: After | None, limit: int
    ) -> Sequence[Sanction]:
        async with read_only(self.sessions) as session:
            await _queue_scope(session, principal, where.community_id)
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
            await _moderated(session, principal, sanction.community_id)
            return sanction

    async def lift(self, principal: Principal, sanction_id: str, reason: str) -> Sanction:
        """End a running mute early, or lift a ban (→ left: the member may join again). The
        sanction stays a strike; only an overturned appeal removes it."""
        async with transaction(self.sessions) as session:
            return await _lift_in(session, principal, sanction_id, reason)

    # ----------------------------------------------------------------- reports

    async def file_report(
        self, tenant_id: str, reporter_id: str, community_id: str, draft: NewReport
    ) -> Filed:
        # Two identical reports at once collide on the open key: the retry returns the first.
        for attempt in (1, 2):
            try:
                async with transaction(self.sessions) as session:
                    return await _file_in(session, tenant_id, reporter_id, community_id, draft)
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def reports(
        self, principal: Principal, where: ReportQuery, after: After | None, limit: int
    ) -> Sequence[Report]:
        async with read_only(self.sessions) as session:
            await _queue_scope(session, principal, where.community_id)
            return await ModerationRepository(session).reports_page(
                principal.tenant_id, where, after, limit
            )

    async def report(self, principal: Principal, report_id: str) -> Report:
        async with read_only(self.sessions) as session:
            report = await ModerationRepository(session).report(principal.tenant_id, report_id)
            if report is None:
                raise not_found("report")
            await _moderated(session, principal, report.community_id)
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
            return await _resolve_in(session, principal, report_id, outcome, note, sanction_id)

    # ----------------------------------------------------------------- appeals

    async def appeal(self, tenant_id: str, member_id: str, sanction_id: str, text: str) -> Appeal:
        """The sanctioned member appeals, once per sanction."""
        try:
            async with transaction(self.sessions) as session:
                return await _appeal_in(session, tenant_id, member_id, sanction_id, text)
        except IntegrityError as error:
            raise _appeal_exists() from error

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
            await _queue_scope(session, principal, community_id)
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
            return await _decide_in(session, principal, appeal_id, overturn, reason)


# ---------------------------------------------------------------- authorization


async def _moderated(
    session: AsyncSession,
    principal: Principal,
    community_id: str,
    permission: Permission = Permission.MODERATE,
) -> tuple[Community, Actor]:
    """The community (404 for another tenant's) and the actor allowed to act on it (403)."""
    community = await Repository(session).community(principal.tenant_id, community_id)
    if community is None:
        raise not_found("community")
    return community, await authorize(session, principal, community_id, permission)


async def _queue_scope(
    session: AsyncSession, principal: Principal, community_id: str | None
) -> None:
    """A queue across all communities is for tenant operators; community moderators pass
    their community's id."""
    if community_id is not None:
        await _moderated(session, principal, community_id)
    elif not is_tenant_operator(principal):
        raise forbidden("tenant operators only; community moderators pass community_id")


def _tenant_operator(principal: Principal) -> None:
    """Tenant-wide bans reach every community: only tenant operators decide them."""
    if not is_tenant_operator(principal):
        raise forbidden("tenant-wide bans are for tenant operators")


# ---------------------------------------------------------------- sanctions


async def _issue_in(
    session: AsyncSession, principal: Principal, community_id: str, draft: NewSanction
) -> Sanction:
    community, actor = await _moderated(session, principal, community_id)
    if draft.tenant_wide:
        _tenant_operator(principal)
    tenant_id = community.tenant_id
    membership = await Repository(session).membership_of(tenant_id, community.id, draft.member_id)
    if membership is None:
        raise not_found("membership")
    return await _issue_as(session, community, membership, actor, draft)


async def strike_from_content(
    session: AsyncSession,
    tenant_id: str,
    community_id: str,
    member_id: str,
    reason: str,
    at: datetime,
) -> Sanction | None:
    """content's auto-moderation found a strike (``item.flagged`` with ``strike``): the next
    step of the community's ladder, issued by ``AUTOMOD``, unless the member no longer sits
    there or an automatic strike at most ``AUTO_STRIKE_COOLDOWN`` before ``at`` covers it
    (a burst of refused posts is one offence, not a climb to a ban)."""
    repo = Repository(session)
    community = await repo.community(tenant_id, community_id)
    membership = await repo.membership_of(tenant_id, community_id, member_id)
    if community is None or membership is None:
        return None
    if not machine.holds_seat(Status(membership.status)):
        return None  # left, removed or banned meanwhile: nothing to sanction here
    mod = ModerationRepository(session)
    previous = await mod.last_issued_by(tenant_id, community_id, member_id, AUTOMOD.id)
    if not auto_strike_due(previous, at):
        return None
    draft = NewSanction(member_id=member_id, reason=reason[:500])
    return await _issue_as(session, community, membership, AUTOMOD, draft)


async def _issue_as(
    session: AsyncSession,
    community: Community,
    membership: Membership,
    actor: Actor,
    draft: NewSanction,
) -> Sanction:
    tenant_id = community.tenant_id
    mod = ModerationRepository(session)
    report = await _open_report(mod, community, draft.report_id) if draft.report_id else None
    now = utcnow()
    step, index = await _step(mod, community, draft, now)
    sanction = Sanction(
        id=new_id(),
        tenant_id=tenant_id,
        community_id=community.id,
        membership_id=membership.id,
        member_id=membership.member_id,
        kind=step.kind,
        status=SanctionStatus.ACTIVE,
        step=index,
        ends_at=now + step.duration if step.duration else None,
        tenant_wide=draft.tenant_wide,
        report_id=draft.report_id,
        reason=draft.reason,
        issued_by=actor.id,
        restore=[],
        created_at=now,
    )
    session.add(sanction)
    await session.flush()
    await _apply(session, sanction, membership, now)
    if report is not None:
        _close(report, ReportStatus.ACTIONED, actor, None, now, sanction.id)
    await add_event(session, events.sanction_issued(sanction))
    await audit.record(
        session,
        tenant_id,
        actor,
        "sanction.issued",
        target_kind="sanction",
        target_id=sanction.id,
        community_id=community.id,
        reason=draft.reason,
        details={
            "member_id": sanction.member_id,
            "kind": sanction.kind,
            "step": index,
            "ends_at": sanction.ends_at.isoformat() if sanction.ends_at else None,
            "tenant_wide": sanction.tenant_wide,
            "report_id": sanction.report_id,
        },
    )
    return sanction


async def _step(
    mod: ModerationRepository, community: Community, draft: NewSanction, now: datetime
) -> tuple[Step, int | None]:
    """The explicit sanction, or the ladder's next step (with its index) for a new strike."""
    if draft.kind is None:
        ladder = ladder_of(await mod.ladder(community.tenant_id, community.id))
        strikes = await mod.strikes(community.tenant_id, community.id, draft.member_id)
        index = ladder.next_index(strikes, now)
        return ladder.steps[index], index
    if draft.tenant_wide and draft.kind is not SanctionKind.BAN:
        raise unprocessable("invalid-sanction", "Invalid sanction", "only a ban is tenant-wide")
    try:
        return Step(draft.kind, draft.duration), None
    except ValueError as error:
        raise unprocessable("invalid-sanction", "Invalid sanction", str(error)) from error


async def _apply(
    session: AsyncSession, sanction: Sanction, membership: Membership, now: datetime
) -> None:
    kind = SanctionKind(sanction.kind)
    if kind is SanctionKind.MUTE:
        await _mute(session, sanction, membership, now)
    elif kind is SanctionKind.REMOVAL:
        sanction.restore = [_before(membership)]
        await move(session, membership, Status.REMOVED, now)
        await add_event(session, events.membership_removed(membership, sanction, now))
    elif kind is SanctionKind.BAN:
        await _ban(session, sanction, membership, now)


def _before(membership: Membership) -> dict[str, Any]:
    return {
        "membership_id": membership.id,
        "status": membership.status,
        "group_id": membership.group_id,
    }


async def _mute(
    session: AsyncSession, sanction: Sanction, membership: Membership, now: datetime
) -> None:
    """The mute runs until ``ends_at`` (a longer running one is kept). A member who left keeps
    it: it applies again if they re-join before it ends."""
    assert sanction.ends_at is not None
    reasons = MuteReasons(membership.muted_until, membership.rules_muted)
    membership.muted_until = reasons.muted_until(sanction.ends_at).until
    payload = {"tenant_id": sanction.tenant_id, "sanction_id": sanction.id}
    await schedule(session, MUTE_END_TIMER, sanction.id, sanction.ends_at, payload)
    await settle_mute(session, membership, now)


async def _ban(
    session: AsyncSession, sanction: Sanction, membership: Membership, now: datetime
) -> None:
    """Ban in this community; tenant-wide: also in every other community the member is in
    (pending or seated), and future joins anywhere in the tenant are refused."""
    targets = [membership]
    if sanction.tenant_wide:
        others = await ModerationRepository(session).member_memberships(
            sanction.tenant_id, sanction.member_id
        )
        targets += [
            m
            for m in others
            if m.id != membership.id and Status(m.status) not in ENDED | {Status.BANNED}
        ]
        ban = TenantBan(
            tenant_id=sanction.tenant_id,
            member_id=sanction.member_id,
            sanction_id=sanction.id,
            created_at=now,
        )
        await ModerationRepository(session).add_tenant_ban(ban)
    elif Status(membership.status) == Status.BANNED:
        raise conflict("already-banned", "Already banned", "the member is banned here already")
    restore = []
    for target in targets:
        if Status(target.status) == Status.BANNED:
            continue
        restore.append(_before(target))
        await move(session, target, Status.BANNED, now)
        await add_event(session, events.membership_banned(target, sanction, now))
    sanction.restore = restore


def _end(sanction: Sanction, status: SanctionStatus, by: str, reason: str | None) -> datetime:
    now = utcnow()
    sanction.status = status
    sanction.ended_at, sanction.ended_by, sanction.end_reason = now, by, reason
    return now


async def _mute_ended(session: AsyncSession, sanction: Sanction, now: datetime, cause: str) -> None:
    """A mute sanction stopped: the membership keeps the longest other running mute, and is
    unmuted when no reason is left (a rules mute stays)."""
    await cancel(session, MUTE_END_TIMER, sanction.id)
    membership = await Repository(session).membership(sanction.tenant_id, sanction.membership_id)
    assert membership is not None
    await session.flush()  # the sanction's new status, before looking for other mutes
    remaining = await ModerationRepository(session).longest_mute(membership.id)
    reasons = MuteReasons(membership.muted_until, membership.rules_muted)
    membership.muted_until = reasons.sanction_ended(remaining).until
    await settle_mute(session, membership, now, cause=cause)


async def end_mute(session: AsyncSession, timer: Timer) -> None:
    """Timer: a mute sanction ran its time. Firing twice (or after a lift) changes nothing."""
    mod = ModerationRepository(session)
    sanction = await mod.sanction(timer.payload["tenant_id"], timer.payload["sanction_id"])
    if sanction is None or sanction.status != SanctionStatus.ACTIVE:
        return
    now = _end(sanction, SanctionStatus.EXPIRED, audit.SYSTEM.id, None)
    await _mute_ended(session, sanction, now, "mute_ended")
    await add_event(session, events.sanction_lifted(sanction))
    await audit.record(
        session,
        sanction.tenant_id,
        audit.SYSTEM,
        "sanction.expired",
        target_kind="sanction",
        target_id=sanction.id,
        community_id=sanction.community_id,
        details={"member_id": sanction.member_id},
    )


async def _lift_in(
    session: AsyncSession, principal: Principal, sanction_id: str, reason: str
) -> Sanction:
    sanction = await ModerationRepository(session).sanction(principal.tenant_id, sanction_id)
    if sanction is None:
        raise not_found("sanction")
    _, actor = await _moderated(session, principal, sanction.community_id)
    if sanction.tenant_wide:
        _tenant_operator(principal)
    kind = SanctionKind(sanction.kind)
    in_force = sanction.status == SanctionStatus.ACTIVE
    if not in_force or kind not in (SanctionKind.MUTE, SanctionKind.BAN):
        raise conflict(
            "not-liftable",
            "Nothing to lift",
            f"a {sanction.status} {kind} is not in force (appeal to undo it)",
        )
    now = _end(sanction, SanctionStatus.LIFTED, actor.id, reason)
    if kind is SanctionKind.MUTE:
        await _mute_ended(session, sanction, now, "lifted")
    else:
        await _undo_ban(session, sanction, now, back_to_before=False)
    await add_event(session, events.sanction_lifted(sanction))
    await audit.record(
        session,
        sanction.tenant_id,
        actor,
        "sanction.lifted",
        target_kind="sanction",
        target_id=sanction.id,
        community_id=sanction.community_id,
        reason=reason,
        details={"member_id": sanction.member_id, "kind": sanction.kind},
    )
    return sanction


async def _undo_ban(
    session: AsyncSession, sanction: Sanction, now: datetime, *, back_to_before: bool
) -> None:
    """Unban every membership the ban moved and is still banned: to the status before (an
    overturn) or to left (a lift: the member may join again)."""
    repo = Repository(session)
    for entry in sanction.restore:
        membership = await repo.membership(sanction.tenant_id, entry["membership_id"])
        if membership is None or Status(membership.status) != Status.BANNED:
            continue
        if back_to_before:
            await _reinstate(session, membership, entry, sanction, now)
        else:
            await move(session, membership, Status.LEFT, now)
            event = events.membership_reinstated(membership, Status.BANNED, sanction, now)
            await add_event(session, event)
    if sanction.tenant_wide:
        await ModerationRepository(session).drop_tenant_ban(sanction.tenant_id, sanction.id)


async def _reinstate(
    session: AsyncSession,
    membership: Membership,
    entry: dict[str, Any],
    sanction: Sanction,
    now: datetime,
) -> None:
    """Back to the status before the sanction, re-seated in the old group if it has room
    (else no group), muted again if a mute reason still holds."""
    from_status = Status(membership.status)
    reasons = MuteReasons(membership.muted_until, membership.rules_muted)
    target = restored_status(
        Status(entry["status"]), membership.tier, membership.term_ends_at, reasons, now
    )
    if target in ENDED and from_status in ENDED:
        return  # the term ended meanwhile: removed or expired, it is over either way
    base = unmuted_status(membership.tier) if target == Status.MUTED else target
    await move(session, membership, base, now)
    if machine.holds_seat(base):
        group_id = entry.get("group_id")
        seated = group_id is not None and await claim_seat(session, membership, group_id)
        membership.group_id = group_id if seated else None
        membership.seat_waiting_since = None
        if group_id is not None and not seated:  # it filled meanwhile: they wait for a seat
            await seating.wait_for_seat(session, membership, now)
        if membership.term_ends_at is not None:
            await schedule_expiry(session, membership)  # its timer may have passed meanwhile
    await add_event(session, events.membership_reinstated(membership, from_status, sanction, now))
    await settle_mute(session, membership, now)


# ---------------------------------------------------------------- reports


def _open_key(community_id: str, reporter_id: str, draft: NewReport) -> str:
    parts = [community_id, reporter_id, str(draft.target_kind), draft.target_id, draft.category]
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()


async def _file_in(
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


async def _open_report(mod: ModerationRepository, community: Community, report_id: str) -> Report:
    report = await mod.report(community.tenant_id, report_id)
    if report is None or report.community_id != community.id:
        raise not_found("report")
    if report.status != ReportStatus.OPEN:
        raise conflict("report-resolved", "Report resolved", f"the report is {report.status}")
    return report


def _close(
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


async def _resolve_in(
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
    community, actor = await _moderated(session, principal, report.community_id)
    report = await _open_report(mod, community, report.id)
    if sanction_id is not None:
        sanction = await mod.sanction(principal.tenant_id, sanction_id)
        if sanction is None or sanction.community_id != report.community_id:
            raise not_found("sanction")
    _close(report, outcome, actor, note, utcnow(), sanction_id)
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


# ---------------------------------------------------------------- appeals


def _appeal_exists() -> Problem:
    return conflict("appeal-exists", "Already appealed", "a sanction is appealed once")


async def _appeal_in(
    session: AsyncSession, tenant_id: str, member_id: str, sanction_id: str, text: str
) -> Appeal:
    mod = ModerationRepository(session)
    sanction = await mod.sanction(tenant_id, sanction_id)
    if sanction is None or sanction.member_id != member_id:
        raise not_found("sanction")  # another member's sanction is none of their business
    if await mod.appeal_of(sanction.id) is not None:
        raise _appeal_exists()
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


async def _decide_in(
    session: AsyncSession, principal: Principal, appeal_id: str, overturn: bool, reason: str
) -> Appeal:
    mod = ModerationRepository(session)
    appeal = await mod.appeal(principal.tenant_id, appeal_id)
    if appeal is None:
        raise not_found("appeal")
    _, actor = await _moderated(session, principal, appeal.community_id)
    sanction = await mod.sanction(principal.tenant_id, appeal.sanction_id)
    assert sanction is not None
    if sanction.tenant_wide and overturn:
        _tenant_operator(principal)
    if appeal.status != AppealStatus.PENDING:
        raise conflict("appeal-decided", "Already decided", f"the appeal was {appeal.status}")
    appeal.status = AppealStatus.OVERTURNED if overturn else AppealStatus.UPHELD
    appeal.decided_by, appeal.reason, appeal.decided_at = actor.id, reason, utcnow()
    if overturn:
        await _overturn(session, sanction, actor, reason)
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


async def _overturn(session: AsyncSession, sanction: Sanction, actor: Actor, reason: str) -> None:
    """Undo what the sanction still does; it stops counting as a strike."""
    was_active = sanction.status == SanctionStatus.ACTIVE
    now = _end(sanction, SanctionStatus.OVERTURNED, actor.id, reason)
    kind = SanctionKind(sanction.kind)
    if kind is SanctionKind.MUTE and was_active:
        await _mute_ended(session, sanction, now, "overturned")
    elif kind is SanctionKind.BAN:
        await _undo_ban(session, sanction, now, back_to_before=True)
    elif kind is SanctionKind.REMOVAL:
        await _undo_removal(session, sanction, now)
    await add_event(session, events.sanction_lifted(sanction))


async def _undo_removal(session: AsyncSession, sanction: Sanction, now: datetime) -> None:
    """Back in, unless the member re-joined (or was banned) since."""
    [entry] = sanction.restore
    membership = await Repository(session).membership(sanction.tenant_id, entry["membership_id"])
    if membership is not None and Status(membership.status) == Status.REMOVED:
        await _reinstate(session, membership, entry, sanction, now)
