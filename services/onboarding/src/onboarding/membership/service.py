"""The Membership aggregate, saved: the steps every way in and out shares.

Joins, payments, applications, invites, moderation and rules all change a membership; they
load the row, ``decide`` with one of the aggregate's pure rules (membership/domain.py),
``save`` the new state and emit what the outcome calls for. ``enter`` is the way in past
the gate (``check_entry``), ``move`` a single state-machine transition, ``settle_mute``
where a seated member's mute reasons put them.

Callers pass the tenant id from the verified token; every lookup is scoped by it, so another
tenant's ids are simply not found (404), never "forbidden" (which would confirm they exist).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from onboarding import events
from onboarding.ids import new_id
from onboarding.joins import seating
from onboarding.joins.domain import ANYONE, Candidate
from onboarding.joins.seating import Seat, candidate_of
from onboarding.levels.service import check_level
from onboarding.membership import domain as aggregate
from onboarding.membership import states as machine
from onboarding.membership.domain import TIER_CORE, Change, Outcome
from onboarding.membership.repository import EntryContext, Repository
from onboarding.membership.states import IllegalTransition, Status
from onboarding.moderation.domain import MuteReasons, resting_status
from onboarding.orm import Community, Member, Membership
from onboarding.payments.domain import PaidTerms, TermKind
from onboarding.payments.timers import schedule_expiry
from onboarding.problems import conflict
from onboarding.queries import After
from onboarding.roles import service as roles
from onboarding.rules.acceptance import accept_rules, rules_not_accepted
from onboarding.rules.repository import RulesRepository
from servicekit.db import read_only
from servicekit.outbox import add_event, add_events
from servicekit.problems import Problem, not_found
from servicekit.types import utcnow

T = TypeVar("T")
ENDED = aggregate.ENDED


@dataclass(frozen=True)
class Source:
    """How a member arrived; carried by membership.activated for attribution."""

    kind: str
    code: str | None = None
    channel: str | None = None
    inviter_id: str | None = None
    routing_code_id: str | None = None
    group_id: str | None = None  # an invite's target group


@dataclass(frozen=True)
class Joined:
    membership: Membership
    created: bool  # False when the member already belonged (the join was a no-op)
    seat: Seat | None = None
    candidate: Candidate = ANYONE


def paid_terms(community: Community) -> PaidTerms | None:
    """The community's paid terms, or None for a free one."""
    if community.join_policy != "paid":
        return None
    assert community.price_cents and community.currency and community.term_kind
    return PaidTerms(
        price_cents=community.price_cents,
        currency=community.currency,
        term_kind=TermKind(community.term_kind),
        term_days=community.term_days,
        fixed_ends_at=community.term_fixed_ends_at,
        trial_days=community.trial_days,
        refund_window_hours=community.refund_window_hours,
    )


class Memberships:
    """Operators' and members' reads of memberships (and the member's directory entry)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def memberships(
        self,
        tenant_id: str,
        *,
        community_id: str | None = None,
        member_id: str | None = None,
        status: str | None = None,
        waiting: bool | None = None,
        after: After | None = None,
        limit: int = 50,
    ) -> list[Membership]:
        async with read_only(self.sessions) as session:
            return list(
                await Repository(session).memberships_page(
                    tenant_id,
                    community_id=community_id,
                    member_id=member_id,
                    status=status,
                    after=after,
                    limit=limit,
                    waiting=waiting,
                )
            )

    async def membership(self, tenant_id: str, membership_id: str) -> Membership:
        async with read_only(self.sessions) as session:
            membership = await Repository(session).membership(tenant_id, membership_id)
        if membership is None:
            raise not_found("membership")
        return membership

    async def member(self, tenant_id: str, external_id: str) -> Member | None:
        async with read_only(self.sessions) as session:
            return await Repository(session).member(tenant_id, external_id)


# ---------------------------------------------------------------- the aggregate, saved


def state_of(membership: Membership | None) -> aggregate.Membership:
    if membership is None:
        return aggregate.NEW
    return aggregate.Membership(
        status=Status(membership.status),
        tier=membership.tier,
        trial_used=membership.trial_used,
        activated_at=membership.activated_at,
        term_ends_at=membership.term_ends_at,
        refund_window_ends_at=membership.refund_window_ends_at,
    )


def decide(rule: Callable[..., T], *args: Any) -> T:
    """Run one of the aggregate's rules; what it refuses answers as a problem."""
    try:
        return rule(*args)
    except aggregate.Refused as refused:
        raise Problem(refused.status, refused.slug, refused.title, refused.detail) from refused


async def save(
    session: AsyncSession, membership: Membership, change: Change, now: datetime | None = None
) -> None:
    """Write the aggregate's new state to the row; leaving a seat frees it and ends roles."""
    after = change.after
    assert after.status is not None
    if change.frees_seat:
        await _leave_seat(session, membership, after.status)
    membership.status = after.status
    membership.tier = after.tier
    membership.trial_used = after.trial_used
    membership.activated_at = after.activated_at
    membership.term_ends_at = after.term_ends_at
    membership.refund_window_ends_at = after.refund_window_ends_at
    if change.status_changed:
        membership.status_changed_at = now or utcnow()


async def move(
    session: AsyncSession, membership: Membership, target: Status, now: datetime | None = None
) -> None:
    """Apply one state-machine transition; leaving the seated states frees the seat."""
    current = Status(membership.status)
    try:
        machine.transition(current, target)
    except IllegalTransition as error:
        raise conflict("illegal-transition", "Not possible now", str(error)) from error
    if machine.holds_seat(current) and not machine.holds_seat(target):
        await _leave_seat(session, membership, target)
    membership.status = target
    membership.status_changed_at = now or utcnow()


async def _leave_seat(session: AsyncSession, membership: Membership, status: Status) -> None:
    """Out of the seated statuses: the group seat is freed and roles end (they need one)."""
    await seating.unseat(session, membership)
    await roles.end_roles(session, membership, status)


async def settle_mute(
    session: AsyncSession, membership: Membership, now: datetime, *, cause: str = "mute_ended"
) -> None:
    """Put a seated member where their mute reasons say: muted iff one holds
    (moderation.domain). Publishes membership.muted / .unmuted (``cause`` of an unmute)."""
    current = Status(membership.status)
    if not machine.holds_seat(current):
        return
    reasons = MuteReasons(membership.muted_until, membership.rules_muted)
    target = resting_status(membership.tier, reasons, now)
    if target == current:
        return
    await move(session, membership, target, now)
    if target == Status.MUTED:
        why = "sanction" if reasons.sanction_holds(now) else "rules"
        await add_event(session, events.membership_muted(membership, why, now))
    else:
        await add_event(session, events.membership_unmuted(membership, cause, now))


# ---------------------------------------------------------------- the way in


def reusable(membership: Membership | None) -> bool:
    """May a join (re)start this membership? False: the member is already in, or on the way
    in (a join is then a no-op). A banned member is refused."""
    return decide(aggregate.may_start, state_of(membership))


async def check_entry(
    repo: Repository,
    community: Community,
    member_id: str,
    accepted_rules_version: int | None,
    context: EntryContext | None = None,
) -> EntryContext:
    """The gate every way in passes (join, code, invite, application, first payment):
    no tenant-wide ban, the current rules accepted (recorded as accepted), the level gate.
    Returns what it read of the member (``context``, if the caller read it already), for
    seating and the welcome."""
    current = community.rules_version
    if context is None:
        context = await repo.entry_context(community.tenant_id, community.id, member_id, current)
    if context.banned:
        raise Problem(403, "banned", "Banned", "you are banned from this tenant's communities")
    if current is not None:
        if accepted_rules_version != current:
            raise rules_not_accepted(current)
        if not context.accepted_rules:
            await accept_rules(repo.session, community, member_id, current)
            context = replace(context, accepted_rules=True)
        # A rules mute from an earlier stay ends: the member accepted the current rules now.
        await RulesRepository(repo.session).clear_rules_mute(
            community.tenant_id, community.id, member_id
        )
    check_level(community, context.level)
    return context


async def enter(
    session: AsyncSession,
    community: Community,
    membership: Membership,
    context: EntryContext | None = None,
) -> Seat | None:
    """Past the gate: open → active; paid → a free trial if the member never had one, else
    pending_payment (membership.domain.enter decides). The seat taken, if any."""
    now = utcnow()
    change = decide(aggregate.enter, state_of(membership), paid_terms(community), now)
    await save(session, membership, change, now)
    if change.outcome in (Outcome.ARRIVED, Outcome.UPGRADED):
        return await activated(session, community, membership, change, context, now)
    if membership not in session:
        session.add(membership)
    return None


async def activated(
    session: AsyncSession,
    community: Community,
    membership: Membership,
    change: Change,
    context: EntryContext | None,
    now: datetime,
) -> Seat | None:
    """Into trial or active (already saved): the expiry timer and membership.activated; an
    arrival (not trial → paid) also gets a mentor, a seat and a welcome. The seat is taken
    last, just before the membership row and the events are written, so the group's row
    lock is held for the fewest statements."""
    if membership.term_ends_at is not None:
        await schedule_expiry(session, membership)
    seat = None
    if change.outcome == Outcome.ARRIVED:
        if context is None:
            context = await Repository(session).entry_context(
                membership.tenant_id, community.id, membership.member_id, community.rules_version
            )
        if context.has_mentors:
            await roles.assign_mentor(session, membership)
        if community.rules_version is not None and not context.accepted_rules:
            # Entered before the current rules were published (waiting for a payment or a
            # review, past the gate already): muted for rules until they accept.
            membership.rules_muted = True
        seat = await seating.seat(session, membership, candidate_of(membership, context))
        membership.group_id = seat.group_id if seat else None
        if seat is None and seating.wants_seat(membership, community):
            await seating.wait_for_seat(session, membership, now)
        else:
            membership.seat_waiting_since = None
    if membership not in session:
        await Repository(session).insert_new(membership)
    upgraded = change.outcome == Outcome.UPGRADED  # a trial member paid: rewards settles
    activated = events.membership_activated(membership, change.before.tier if upgraded else None)
    if change.outcome != Outcome.ARRIVED:
        await add_event(session, activated)
    elif membership.mentor_id is not None:  # the mentor's name is read for the welcome
        await add_event(session, activated)
        await roles.welcome(session, membership)
    else:
        welcomed = roles.welcome_event(
            membership,
            community,
            display_name=context.display_name if context else None,
            group_name=seat.group_name if seat else None,
            mentor_name=None,
            at=now,
        )
        await add_events(session, [activated, welcomed])
    await settle_mute(session, membership, now)  # a mute running from an earlier stay holds
    return seat


async def ensure_member(session: AsyncSession, tenant_id: str, external_id: str) -> None:
    """A stub directory entry: a join or a payment may arrive before member.identified."""
    now = utcnow()
    await Repository(session).insert_member_if_absent(
        Member(
            id=new_id(),
            tenant_id=tenant_id,
            external_id=external_id,
            display_name=None,
            profile={},
            tags=[],
            created_at=now,
            updated_at=now,
        )
    )


async def new_membership(
    session: AsyncSession,
    tenant_id: str,
    community_id: str,
    member_id: str,
    status: Status,
    source: Source,
) -> Membership:
    """A membership row written now (a caller that needs its id in the database at once)."""
    await ensure_member(session, tenant_id, member_id)
    membership = membership_row(tenant_id, community_id, member_id, status, source)
    session.add(membership)
    await session.flush()
    return membership


def membership_row(
    tenant_id: str, community_id: str, member_id: str, status: Status, source: Source
) -> Membership:
    """A new membership, not yet in the session: the join adds it once, in its final state."""
    now = utcnow()
    membership = Membership(
        id=new_id(),
        tenant_id=tenant_id,
        community_id=community_id,
        member_id=member_id,
        status=status,
        tier=TIER_CORE,
        group_id=None,
        seat_waiting_since=None,
        mentor_id=None,
        muted_until=None,
        rules_muted=False,
        trial_used=False,
        activated_at=None,
        term_ends_at=None,
        refund_window_ends_at=None,
        created_at=now,
        status_changed_at=now,
    )
    record_source(membership, source)
    return membership


def record_source(membership: Membership, source: Source) -> None:
    membership.source_kind = source.kind
    membership.source_code = source.code
    membership.source_channel = source.channel
    membership.inviter_id = source.inviter_id
    membership.routing_code_id = source.routing_code_id
    membership.target_group_id = source.group_id
