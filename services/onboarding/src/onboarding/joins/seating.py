"""Seats: which group (群) a membership sits in, under concurrent joins, never over capacity.

Decided in ``joins.domain`` (placement order, overflow template, when to open ahead);
this module takes and frees seats with conditional updates, and opens groups.

Locks, so that no mix of joins, refunds, leaves and overflow can deadlock:

- a use case takes a seat **last**, after everything else it reads and writes but the
  membership row and its events, so the group's row lock is held for two statements;
- a use case holds at most one group row when it waits for anything, and never waits for a
  routing code while holding a group (it asks for the code only when it found no seat,
  and a failed attempt that waited is rolled back to its savepoint, see _take_any_seat);
- the routing code's lock is ``FOR NO KEY UPDATE``: it never waits for, nor blocks, the
  foreign-key share locks that memberships and groups take;
- overflow groups are opened ahead of demand after the join that crossed the threshold
  commits, in their own short transaction, so a burst rarely reaches the locked path.
"""

from __future__ import annotations

import uuid
import zlib
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from onboarding import events
from onboarding.joins.domain import (
    Candidate,
    GroupLoad,
    Requirements,
    keep_open,
    meets,
    needs_overflow_soon,
    overflow_name,
    overflow_template,
    placement_order,
    waiting_order,
)
from onboarding.joins.repository import JoinRepository
from onboarding.membership.repository import EntryContext, Repository
from onboarding.membership.states import Status, holds_seat
from onboarding.orm import Community, Group, Membership, RoutingCode
from onboarding.seats.domain import SELF_SERVICE_KINDS
from servicekit.db import dialect_of, transaction
from servicekit.outbox import add_event
from servicekit.timers import Timer, schedule
from servicekit.types import utcnow


@dataclass(frozen=True)
class NewGroup:
    name: str
    kind: str = "core"
    capacity: int = 500
    min_tier: str | None = None  # placement requirements (joins.domain.Requirements)
    min_level: int | None = None
    city: str | None = None  # labels: routing prefers them for members of that city/interest
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Seat:
    group_id: str
    group_name: str
    # The routing code whose free seats ran low with this seat: open its next overflow
    # group once the caller's transaction has committed (``open_overflow_ahead``).
    low_code_id: str | None = None


def candidate_of(membership: Membership, context: EntryContext) -> Candidate:
    """The member as routing sees them: tier, level, city (profile) and tags."""
    city = context.profile.get("city")
    return Candidate(
        tier=membership.tier,
        level=context.level,
        city=city if isinstance(city, str) else None,
        tags=frozenset(context.tags),
    )


async def seat(session: AsyncSession, membership: Membership, candidate: Candidate) -> Seat | None:
    """A seat for an arriving member: the one way to seat, whatever the way in.

    Their routing code routes them (least full, overflow). Else an invite's target group
    seats them if it has room and admits them, and if not, the routing code that covers that
    group (the code that opened it, or the oldest code that lists it), else the community's
    default code. A way in that names no group uses the default code; without one, no group.
    No seat found never refuses the member: the seat is taken on activation, often a
    payment, which must not fail over a chat group; the caller marks them waiting
    (``wants_seat``).
    """
    repo = JoinRepository(session)
    code_id = membership.routing_code_id
    target = membership.target_group_id
    if code_id is None and target is None:
        code_id = await _default_code(session, membership)
        if code_id is None:
            return None
    elif code_id is None:
        group = await session.get(Group, target)
        if group is None or group.community_id != membership.community_id:
            return None
        taken = await _take_eligible_seat(session, membership, group, candidate)
        if taken is not None:
            return taken
        code_id = (
            group.routing_code_id
            or await repo.code_listing(membership.tenant_id, membership.community_id, group.id)
            or await _default_code(session, membership)
        )
        if code_id is None:
            return None
    code = await repo.routing_code_by_id(membership.tenant_id, code_id)
    if code is None:
        return None
    spread = zlib.crc32(membership.id.encode())
    loads = await repo.group_loads(code)
    taken = await _take_any_seat(session, code, loads, candidate, spread)
    if taken is not None:
        return taken
    # Every group open to them is full or went full meanwhile. We hold no group: lock the
    # code so that one joiner at a time opens an overflow group, and look again first (the
    # joiner before us may just have opened one).
    code = await repo.lock_routing_code(code.id)
    loads = await repo.group_loads(code)
    taken = await _take_any_seat(session, code, loads, candidate, spread)
    return taken or await _open_overflow(session, code, loads, candidate)


SEAT_TIMER = "membership.seat"


async def wait_for_seat(session: AsyncSession, membership: Membership, now: datetime) -> None:
    """No group had room: the member waits, and one more try runs right after this commit
    (``retry_seat``): a seat freed by a transaction that could not yet see them waiting
    (it committed in between) would otherwise stay free until the next one opens."""
    membership.seat_waiting_since = now
    payload = {"tenant_id": membership.tenant_id, "membership_id": membership.id}
    await schedule(session, SEAT_TIMER, membership.id, now, payload)


async def retry_seat(session: AsyncSession, timer: Timer) -> None:
    """Timer: a member still waiting tries the way in's placement once more. Locks their
    membership first, then (through ``seat``) one group at a time, like a join."""
    repo = Repository(session)
    membership = await repo.membership(timer.payload["tenant_id"], timer.payload["membership_id"])
    if membership is None or membership.seat_waiting_since is None:
        return
    if not holds_seat(Status(membership.status)) or membership.group_id is not None:
        return
    context = await repo.entry_context(
        membership.tenant_id, membership.community_id, membership.member_id, None
    )
    taken = await seat(session, membership, candidate_of(membership, context))
    if taken is None:
        return
    membership.group_id = taken.group_id
    membership.seat_waiting_since = None
    event = events.membership_group_changed(
        membership, from_group_id=None, reason="seat_opened", actor_id=None, at=utcnow()
    )
    await add_event(session, event)


def wants_seat(membership: Membership, community: Community) -> bool:
    """Does the member need a group (their routing code, an invite's target group, or the
    community's default routing code)? Such a member left without one is waiting for a
    seat, never silently ungrouped."""
    return (
        membership.routing_code_id is not None
        or membership.target_group_id is not None
        or community.default_routing_code_id is not None
    )


async def _default_code(session: AsyncSession, membership: Membership) -> str | None:
    """The community's default routing code (the community is in the session already:
    every way in read it, so this costs no round trip)."""
    community = await Repository(session).community(membership.tenant_id, membership.community_id)
    return community.default_routing_code_id if community is not None else None


async def _take_any_seat(
    session: AsyncSession,
    code: RoutingCode,
    loads: list[GroupLoad],
    candidate: Candidate,
    spread: int,
) -> Seat | None:
    """The first group in placement order with a free seat.

    Concurrent joiners would all pick the same least-full group and queue on its row lock,
    so the first pass (one statement) skips groups another transaction holds. Only when
    every group was full or held does it wait its turn, one group at a time, starting with
    one of the equally suitable groups chosen by ``spread`` (``waiting_order``: waiters
    spread over the groups instead of queueing on one), each attempt in a savepoint: a
    conditional UPDATE that waited and then found the group full keeps the row locked
    until the transaction ends (PostgreSQL locks the newest version before re-checking
    the WHERE), and a joiner keeping such a lock while it waits elsewhere is how two
    joiners deadlock. Rolling back the savepoint releases it.
    """
    order = placement_order(loads, candidate)
    wanted = keep_open(_listed(code, loads), candidate)
    if dialect_of(session) != "postgresql":
        # SQLite: one writer at a time, nothing is ever held: the first with room is free.
        for load in order:
            if await claim_seat(session, code, load.group_id):
                return _seat_of(code, order, load, wanted)
        return None
    if not order:
        return None
    taken = await JoinRepository(session).take_first_unheld_seat([g.group_id for g in order])
    if taken is not None:
        group_id, count, capacity = taken
        if count == capacity:
            await _announce_full(session, code, group_id, capacity)
        return _seat_of(code, order, next(g for g in order if g.group_id == group_id), wanted)
    for load in waiting_order(order, candidate, spread):
        attempt = await session.begin_nested()
        if await claim_seat(session, code, load.group_id):
            await attempt.commit()
            return _seat_of(code, order, load, wanted)
        await attempt.rollback()
    return None


def _seat_of(code: RoutingCode, order: list[GroupLoad], taken: GroupLoad, wanted: int) -> Seat:
    low = needs_overflow_soon(order, code.overflow_capacity, taken=taken, keep_open=wanted)
    return Seat(taken.group_id, taken.name, code.id if low else None)


def _listed(code: RoutingCode, loads: list[GroupLoad]) -> list[GroupLoad]:
    """The groups the code lists (not the overflow groups it opened)."""
    return [load for load in loads if load.group_id in code.group_ids]


async def _take_eligible_seat(
    session: AsyncSession, membership: Membership, group: Group, candidate: Candidate
) -> Seat | None:
    """An invite's target group seats the member only if they meet its requirements."""
    if not meets(Requirements(group.min_tier, group.min_level), candidate):
        return None
    if not await claim_seat(session, membership, group.id):
        return None
    return Seat(group.id, group.name)


async def claim_seat(session: AsyncSession, owner: RoutingCode | Membership, group_id: str) -> bool:
    """One seat of the group if it has room; the seat that fills it publishes group.full."""
    taken = await JoinRepository(session).take_seat(group_id)
    if taken is None:
        return False
    count, capacity = taken
    if count == capacity:
        await _announce_full(session, owner, group_id, capacity)
    return True


async def _announce_full(
    session: AsyncSession, owner: RoutingCode | Membership, group_id: str, capacity: int
) -> None:
    """The seat that fills a group publishes group.full."""
    event = events.group_full(owner.tenant_id, owner.community_id, group_id, capacity, utcnow())
    await add_event(session, event)


async def unseat(session: AsyncSession, membership: Membership) -> None:
    """Out of the seated statuses: the seat goes to whoever waits for one, and the member
    no longer waits."""
    membership.seat_waiting_since = None
    if membership.group_id is not None:
        await release_seat(session, membership.group_id, membership.tenant_id)
        membership.group_id = None


async def release_seat(session: AsyncSession, group_id: str, tenant_id: str) -> None:
    """Free one seat of the group, and hand it at once to the member who has waited longest
    for one and may sit there (kinds members choose themselves excepted, see seats.domain).

    The group's row is locked by the decrement; the waiting membership is taken with SKIP
    LOCKED, so this never waits for another transaction while it holds the group.
    """
    freed = await JoinRepository(session).free_seat(group_id)
    if freed is not None:
        requires = Requirements(freed.min_tier, freed.min_level)
        await _seat_waiting(session, tenant_id, freed.community_id, group_id, freed.kind, requires)


async def seat_waiting(session: AsyncSession, group: Group) -> int:
    """A group gained room (more capacity, looser requirements): seat the members waiting
    for one, longest waiting first, while it has room. How many were seated."""
    requires = Requirements(group.min_tier, group.min_level)
    seated = 0
    for _ in range(max(0, group.capacity - group.member_count)):
        count = await _seat_waiting(
            session, group.tenant_id, group.community_id, group.id, group.kind, requires
        )
        if count is None:
            break
        set_committed_value(group, "member_count", count)  # the caller answers with it
        seated += 1
    return seated


async def _seat_waiting(
    session: AsyncSession,
    tenant_id: str,
    community_id: str,
    group_id: str,
    kind: str,
    requires: Requirements,
) -> int | None:
    """The longest waiting member who may sit in the group, seated: the group's new count
    (None: nobody waits for it, or it has no room)."""
    if kind in SELF_SERVICE_KINDS:
        return None
    repo = JoinRepository(session)
    waiting = await repo.longest_waiting(tenant_id, community_id, requires)
    taken = await repo.take_seat(group_id) if waiting is not None else None
    if waiting is None or taken is None:
        return None
    waiting.group_id = group_id
    waiting.seat_waiting_since = None
    event = events.membership_group_changed(
        waiting, from_group_id=None, reason="seat_opened", actor_id=None, at=utcnow()
    )
    await add_event(session, event)
    return taken[0]


async def open_overflow_ahead(
    sessions: async_sessionmaker[AsyncSession], tenant_id: str, code_id: str, candidate: Candidate
) -> None:
    """The code's free seats ran low: open its next overflow group now, in a transaction of
    its own, unless another joiner did meanwhile (checked under the code's lock)."""
    async with transaction(sessions) as session:
        repo = JoinRepository(session)
        code = await repo.lock_routing_code(code_id)  # codes are never deleted
        if code.tenant_id != tenant_id:
            return
        loads = await repo.group_loads(code)
        order = placement_order(loads, candidate)
        wanted = keep_open(_listed(code, loads), candidate)
        if needs_overflow_soon(order, code.overflow_capacity, keep_open=wanted):
            await _open_overflow(session, code, loads, candidate, take_seat=False)


async def _open_overflow(
    session: AsyncSession,
    code: RoutingCode,
    loads: list[GroupLoad],
    candidate: Candidate,
    *,
    take_seat: bool = True,
) -> Seat | None:
    """A new group for the code (its seat taken unless ``take_seat`` is False), copying the
    requirements and labels of the code's most demanding group the member may sit in; None
    (no group) if they may sit in none."""
    repo = JoinRepository(session)
    template = overflow_template(_listed(code, loads), candidate)
    if template is None:
        return None
    community = await Repository(session).community(code.tenant_id, code.community_id)
    assert community is not None
    taken = await repo.group_names(code.community_id)
    number = code.overflow_count + 1
    while overflow_name(code.overflow_prefix, number) in taken:  # skip names operators used
        number += 1
    code.overflow_count = number
    draft = NewGroup(
        overflow_name(code.overflow_prefix, number),
        code.overflow_kind,
        code.overflow_capacity,
        min_tier=template.requires.min_tier,
        min_level=template.requires.min_level,
        city=template.city,
        tags=sorted(template.tags),
    )
    group = await open_group(session, community, draft, routing_code_id=code.id)
    if not take_seat:
        return None
    taken_seat = await repo.take_seat(group.id)
    assert taken_seat is not None  # a new group, invisible to everyone else until commit
    return Seat(group.id, group.name)


async def open_group(
    session: AsyncSession, community: Community, draft: NewGroup, *, routing_code_id: str | None
) -> Group:
    group = Group(
        id=str(uuid.uuid4()),
        tenant_id=community.tenant_id,
        community_id=community.id,
        name=draft.name,
        kind=draft.kind,
        capacity=draft.capacity,
        member_count=0,
        routing_code_id=routing_code_id,
        min_tier=draft.min_tier,
        min_level=draft.min_level,
        city=draft.city,
        tags=list(draft.tags),
        created_at=utcnow(),
    )
    session.add(group)
    await session.flush()
    await add_event(session, events.group_created(group))
    return group
