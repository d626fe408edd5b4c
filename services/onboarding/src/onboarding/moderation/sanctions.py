"""Sanctions: warning, mute (until a time, ended by the ``sanction.mute_end`` timer),
removal, ban (optionally across the tenant). Without an explicit kind the community's
ladder picks the next step from the member's strikes (every sanction not overturned).
Lifting ends a mute or a ban early; an overturned appeal restores what the sanction
changed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

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
from onboarding.moderation.authority import moderated, tenant_operator
from onboarding.moderation.domain import (
    MuteReasons,
    ReportStatus,
    SanctionKind,
    SanctionStatus,
    Step,
    auto_strike_due,
    restored_status,
    unmuted_status,
)
from onboarding.moderation.ladders import ladder_of
from onboarding.moderation.reports import close_report, open_report
from onboarding.moderation.repository import ModerationRepository
from onboarding.orm import Community, Membership, Sanction, TenantBan
from onboarding.payments.timers import schedule_expiry
from onboarding.problems import conflict, unprocessable
from servicekit.auth import Principal
from servicekit.outbox import add_event
from servicekit.problems import not_found
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


async def issue_in(
    session: AsyncSession, principal: Principal, community_id: str, draft: NewSanction
) -> Sanction:
    community, actor = await moderated(session, principal, community_id)
    if draft.tenant_wide:
        tenant_operator(principal)
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
    report = await open_report(mod, community, draft.report_id) if draft.report_id else None
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
        close_report(report, ReportStatus.ACTIONED, actor, None, now, sanction.id)
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


async def lift_in(
    session: AsyncSession, principal: Principal, sanction_id: str, reason: str
) -> Sanction:
    sanction = await ModerationRepository(session).sanction(principal.tenant_id, sanction_id)
    if sanction is None:
        raise not_found("sanction")
    _, actor = await moderated(session, principal, sanction.community_id)
    if sanction.tenant_wide:
        tenant_operator(principal)
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


async def overturn_sanction(
    session: AsyncSession, sanction: Sanction, actor: Actor, reason: str
) -> None:
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
