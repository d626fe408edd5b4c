"""Use cases of seats by hand: an operator moves a membership to another group, a member
switches themselves into an interest or local group (rules in seats.domain).

Locks: the membership row first, then the two groups in id order (the seat freed and the
seat taken), so two moves that cross never deadlock; a join holds one group at most.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from onboarding import events
from onboarding.audit import service as audit
from onboarding.audit.service import Actor
from onboarding.joins.domain import Requirements
from onboarding.joins.seating import candidate_of, claim_seat, release_seat
from onboarding.membership.repository import Repository
from onboarding.membership.service import decide
from onboarding.membership.states import Status
from onboarding.orm import Group, Membership
from onboarding.problems import unprocessable
from onboarding.seats import domain
from onboarding.seats.repository import SeatRepository
from servicekit.db import read_only, transaction
from servicekit.outbox import add_event
from servicekit.problems import Problem, not_found
from servicekit.types import utcnow


@dataclass(frozen=True)
class Choice:
    group: Group
    current: bool


class Seats:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def move(
        self, tenant_id: str, membership_id: str, group_id: str, *, force: bool, actor: Actor
    ) -> Membership:
        """An operator moves a membership (a waiting one too) into another group."""
        async with transaction(self.sessions) as session:
            membership = await Repository(session).membership(tenant_id, membership_id)
            if membership is None:
                raise not_found("membership")
            group = await _group(session, membership, group_id)
            sitter = await _sitter(session, membership)
            before = membership.group_id
            move = decide(partial(domain.operator_move, force=force), sitter, _place(group))
            if move == domain.Move.UNCHANGED:
                return membership
            forced = await _relocate(session, membership, group, may_grow=force)
            await _moved(session, membership, before, "moved", actor.id, forced)
            await audit.record(
                session,
                tenant_id,
                actor,
                "membership.moved",
                target_kind="membership",
                target_id=membership.id,
                community_id=membership.community_id,
                details={"from_group_id": before, "to_group_id": group.id, "forced": forced},
            )
            return membership

    async def switch(
        self, tenant_id: str, member_id: str, community_id: str, group_id: str
    ) -> Membership:
        """A member moves themselves into an interest or local group they may sit in."""
        async with transaction(self.sessions) as session:
            membership = await Repository(session).membership_of(tenant_id, community_id, member_id)
            if membership is None:
                raise not_found("membership")
            group = await _group(session, membership, group_id)
            sitter = await _sitter(session, membership)
            before = membership.group_id
            if decide(domain.member_switch, sitter, _place(group)) == domain.Move.UNCHANGED:
                return membership
            await _relocate(session, membership, group, may_grow=False)
            await _moved(session, membership, before, "switched", member_id, forced=False)
            return membership

    async def choices(self, tenant_id: str, member_id: str, community_id: str) -> list[Choice]:
        """The interest and local groups the member may switch into now, and theirs."""
        async with read_only(self.sessions) as session:
            membership = await Repository(session).membership_read(
                tenant_id, community_id, member_id
            )
            if membership is None:
                raise not_found("membership")
            groups = await SeatRepository(session).groups_of_kinds(
                tenant_id, community_id, domain.SELF_SERVICE_KINDS
            )
            sitter = await _sitter(session, membership)
        return _choices(sitter, groups)


def _choices(sitter: domain.Sitter, groups: Sequence[Group]) -> list[Choice]:
    return [
        Choice(group, current=group.id == sitter.group_id)
        for group in groups
        if group.id == sitter.group_id or domain.may_switch_into(sitter, _place(group))
    ]


async def _group(session: AsyncSession, membership: Membership, group_id: str) -> Group:
    group = await SeatRepository(session).group(
        membership.tenant_id, membership.community_id, group_id
    )
    if group is None:
        raise unprocessable(
            "unknown-groups", "Unknown group", "group_id is not a group of the member's community"
        )
    return group


async def _sitter(session: AsyncSession, membership: Membership) -> domain.Sitter:
    context = await Repository(session).entry_context(
        membership.tenant_id, membership.community_id, membership.member_id, None
    )
    candidate = candidate_of(membership, context)
    return domain.Sitter(Status(membership.status), membership.group_id, candidate)


def _place(group: Group) -> domain.Place:
    return domain.Place(
        group.id,
        group.kind,
        Requirements(group.min_tier, group.min_level),
        group.member_count < group.capacity,
    )


async def _relocate(
    session: AsyncSession, membership: Membership, group: Group, *, may_grow: bool
) -> bool:
    """Free the old seat and take the new one, the two groups in id order; True when the
    group was full and grew by one seat (``may_grow``). A group that filled since it was
    read is a 409, and the transaction (the freed seat too) rolls back."""
    old = membership.group_id
    forced = False
    for group_id in sorted(g for g in (old, group.id) if g is not None):
        if group_id == old:
            await release_seat(session, old, membership.tenant_id)
            continue
        if not await claim_seat(session, membership, group.id):
            if not may_grow:
                raise Problem(409, "group-full", "Group full", "the group has no free seat")
            await SeatRepository(session).grow_and_take(group)
            await add_event(session, events.group_updated(group, ["capacity"], utcnow()))
            forced = True
    membership.group_id = group.id
    membership.seat_waiting_since = None
    return forced


async def _moved(
    session: AsyncSession,
    membership: Membership,
    before: str | None,
    reason: str,
    actor_id: str,
    forced: bool,
) -> None:
    event = events.membership_group_changed(
        membership,
        from_group_id=before,
        reason=reason,
        actor_id=actor_id,
        at=utcnow(),
        forced=forced,
    )
    await add_event(session, event)
