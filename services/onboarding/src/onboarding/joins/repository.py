"""Queries of joins and seating: routing codes, group loads and seats. The hot path's
statements are module constants (see below); lock order is explained in seating.py."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    Table,
    and_,
    any_,
    bindparam,
    func,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from onboarding.joins.domain import TIER_RANK, GroupLoad, Requirements
from onboarding.levels import domain as levels
from onboarding.membership.states import SEATED
from onboarding.orm import Community, Group, MemberLevel, Membership, RoutingCode
from onboarding.queries import After, of_tenant, oldest_first
from servicekit.db import dialect_of

# The join's statements, built once: building a statement and its cache key costs more
# CPU than executing it (measured: about 1 ms of a join's 9), so the hot path binds
# parameters into statements made at import.
_CODE_BY_NAME = select(RoutingCode).where(
    RoutingCode.tenant_id == bindparam("tenant_id"), RoutingCode.code == bindparam("code")
)

_CODE_AND_COMMUNITY = (
    select(RoutingCode, Community)
    .join(Community, Community.id == RoutingCode.community_id)
    .where(RoutingCode.tenant_id == bindparam("tenant_id"), RoutingCode.code == bindparam("code"))
)

# The seat's statements are Core, on the table: run through the ORM, an UPDATE or a column
# SELECT of mapped attributes pays for ORM compile and bulk-update steps that a statement
# returning plain rows never uses (measured: 5 % of onboarding's CPU on the join path).
_GROUPS: Table = Group.__table__  # type: ignore[assignment]
_G = _GROUPS.c

_LOAD_COLUMNS = (
    _G.id,
    _G.member_count,
    _G.capacity,
    _G.min_tier,
    _G.min_level,
    _G.city,
    _G.tags,
    _G.name,
)

_OF_CODE = (_G.tenant_id == bindparam("tenant_id"), _G.community_id == bindparam("community_id"))
_FREE = _G.member_count < _G.capacity
# A full overflow group matters to no rule (joins.domain reads the listed groups and those
# with room), and a code that has run for months has opened hundreds.
_OPENED_BY_CODE = and_(_G.routing_code_id == bindparam("code_id"), _FREE)
_LISTED = bindparam("group_ids", type_=postgresql.ARRAY(String))

# An expanding IN is rendered anew for each execution (measured: 7 % of onboarding's CPU
# on the join path); PostgreSQL takes the list as one array parameter instead.
_CODE_LOADS = {
    "postgresql": select(*_LOAD_COLUMNS).where(
        *_OF_CODE, or_(_G.id == any_(_LISTED), _OPENED_BY_CODE)
    ),
    "sqlite": select(*_LOAD_COLUMNS).where(
        *_OF_CODE, or_(_G.id.in_(bindparam("group_ids", expanding=True)), _OPENED_BY_CODE)
    ),
}

_TAKE_SEAT = (
    update(_GROUPS)
    .where(_G.id == bindparam("group_id"), _FREE)
    .values(member_count=_G.member_count + 1)
    .returning(_G.member_count, _G.capacity)
)

# PostgreSQL: the first group in the given order that has room and that no other
# transaction holds, seated in one statement whatever the number of groups. NO KEY UPDATE
# is the lock the UPDATE itself takes: FOR UPDATE would also skip groups that uncommitted
# memberships reference by foreign key.
_ORDERED_IDS = bindparam("group_ids", type_=postgresql.ARRAY(String))

_FIRST_FREE_UNHELD = (
    select(_G.id)
    .where(_G.id == any_(_ORDERED_IDS), _FREE)
    .order_by(func.array_position(_ORDERED_IDS, _G.id))
    .limit(1)
    .with_for_update(skip_locked=True, key_share=True)
    .scalar_subquery()
)

_TAKE_FIRST_UNHELD_SEAT = (
    update(_GROUPS)
    .where(_G.id == _FIRST_FREE_UNHELD, _FREE)
    .values(member_count=_G.member_count + 1)
    .returning(_G.id, _G.member_count, _G.capacity)
)


# Every run of level changes (each join's bonus changes the member's level) reads this.
_TRIAL_SEATS = (
    select(Membership, Community)
    .join(Group, Group.id == Membership.group_id)
    .join(Community, Community.id == Membership.community_id)
    .where(
        tuple_(Membership.tenant_id, Membership.member_id).in_(
            bindparam("members", expanding=True)
        ),
        Membership.status.in_([str(s) for s in SEATED]),
        Group.kind == "trial",
        Community.auto_upgrade.is_not(None),
    )
    .order_by(Membership.tenant_id, Membership.member_id, Membership.id)
    .with_for_update(of=Membership)
)


@dataclass(frozen=True)
class FreedSeat:
    community_id: str
    kind: str
    min_tier: str | None
    min_level: int | None


class JoinRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # groups and seats
    async def group_names(self, community_id: str) -> set[str]:
        names = await self.session.scalars(
            select(Group.name).where(Group.community_id == community_id)
        )
        return set(names)

    async def group_loads(self, code: RoutingCode) -> list[GroupLoad]:
        """Fresh counts of a code's groups: those it lists, and the overflow groups it opened
        that have room.

        Columns, not ORM objects: the identity map would hand back stale counts.
        """
        params = {
            "tenant_id": code.tenant_id,
            "community_id": code.community_id,
            "group_ids": list(code.group_ids),
            "code_id": code.id,
        }
        statement = _CODE_LOADS[dialect_of(self.session)]
        return _group_loads(await self.session.execute(statement, params))

    async def kind_loads(self, tenant_id: str, community_id: str, kind: str) -> list[GroupLoad]:
        """Fresh counts of every group of one kind in the community (an upgrade's targets)."""
        return await self._loads(
            Group.tenant_id == tenant_id, Group.community_id == community_id, Group.kind == kind
        )

    async def _loads(self, *where: ColumnElement[bool]) -> list[GroupLoad]:
        return _group_loads(await self.session.execute(select(*_LOAD_COLUMNS).where(*where)))

    async def trial_group_seats(
        self, members: Sequence[tuple[str, str]]
    ) -> Sequence[tuple[Membership, Community]]:
        """Seated memberships of ``(tenant_id, member_id)`` in a trial-kind group of a
        community that upgrades automatically, with their communities, in member order."""
        if not members:
            return []
        params = {"members": sorted(set(members))}
        return [(row[0], row[1]) for row in await self.session.execute(_TRIAL_SEATS, params)]

    async def take_seat(self, group_id: str) -> tuple[int, int] | None:
        """Conditional increment: (new count, capacity) if a seat was free, else None.

        The WHERE is re-checked on the latest row version under concurrent updates, so two
        joiners can never both take the last seat.
        """
        row = (await self.session.execute(_TAKE_SEAT, {"group_id": group_id})).first()
        return (row.member_count, row.capacity) if row else None

    async def take_first_unheld_seat(self, group_ids: list[str]) -> tuple[str, int, int] | None:
        """PostgreSQL: a seat in the first of ``group_ids`` with room that no other
        transaction holds, as (group id, new count, capacity); one statement."""
        result = await self.session.execute(_TAKE_FIRST_UNHELD_SEAT, {"group_ids": group_ids})
        row = result.first()
        return (row.id, row.member_count, row.capacity) if row else None

    async def free_seat(self, group_id: str) -> FreedSeat | None:
        """One seat freed; what a waiting member needs to know to take it (None: no seat was
        held, which the CHECK-backed condition never lets go below zero)."""
        result = await self.session.execute(
            update(Group)
            .where(Group.id == group_id, Group.member_count > 0)
            .values(member_count=Group.member_count - 1)
            .returning(Group.community_id, Group.kind, Group.min_tier, Group.min_level)
            .execution_options(synchronize_session=False)
        )
        row = result.first()
        return FreedSeat(row.community_id, row.kind, row.min_tier, row.min_level) if row else None

    async def longest_waiting(
        self, tenant_id: str, community_id: str, requires: Requirements
    ) -> Membership | None:
        """The seated membership of the community that has waited longest for a seat and meets
        ``requires``; locked, skipping rows another transaction holds."""
        level = func.coalesce(MemberLevel.level, levels.BASE_LEVEL)
        query = (
            select(Membership)
            .outerjoin(
                MemberLevel,
                and_(
                    MemberLevel.tenant_id == Membership.tenant_id,
                    MemberLevel.member_id == Membership.member_id,
                ),
            )
            .where(
                Membership.tenant_id == tenant_id,
                Membership.community_id == community_id,
                Membership.seat_waiting_since.is_not(None),
                Membership.status.in_([str(s) for s in SEATED]),
            )
            .order_by(Membership.seat_waiting_since, Membership.id)
            .limit(1)
            .with_for_update(of=Membership, skip_locked=True)
        )
        if requires.min_tier is not None and TIER_RANK.get(requires.min_tier, 0) > 0:
            query = query.where(Membership.tier == requires.min_tier)
        if requires.min_level is not None:
            query = query.where(level >= requires.min_level)
        return await self.session.scalar(query)

    async def code_listing(self, tenant_id: str, community_id: str, group_id: str) -> str | None:
        """The oldest routing code of the community that lists the group (an invite's target
        group is full: the code's routing and overflow seat the invitee)."""
        rows = await self.session.execute(
            select(RoutingCode.id, RoutingCode.group_ids)
            .where(RoutingCode.tenant_id == tenant_id, RoutingCode.community_id == community_id)
            .order_by(RoutingCode.created_at, RoutingCode.id)
        )
        return next((row.id for row in rows if group_id in (row.group_ids or ())), None)

    # routing codes
    async def routing_codes_page(
        self, tenant_id: str, *, community_id: str | None, after: After | None, limit: int
    ) -> Sequence[RoutingCode]:
        query = select(RoutingCode).where(RoutingCode.tenant_id == tenant_id)
        if community_id is not None:
            query = query.where(RoutingCode.community_id == community_id)
        ordered = oldest_first(query, RoutingCode.created_at, RoutingCode.id, after, limit)
        return (await self.session.scalars(ordered)).all()

    async def routing_code(self, tenant_id: str, code: str) -> RoutingCode | None:
        return await self.session.scalar(_CODE_BY_NAME, {"tenant_id": tenant_id, "code": code})

    async def routing_code_and_community(
        self, tenant_id: str, code: str
    ) -> tuple[RoutingCode, Community] | None:
        """A code and its community in one statement (both then in the identity map)."""
        params = {"tenant_id": tenant_id, "code": code}
        row = (await self.session.execute(_CODE_AND_COMMUNITY, params)).first()
        return (row[0], row[1]) if row else None

    async def lock_routing_code(self, code_id: str) -> RoutingCode:
        """The code row, locked until commit (on SQLite the writer lock is held already)."""
        query = (
            select(RoutingCode)
            .where(RoutingCode.id == code_id)
            .with_for_update(key_share=True)
            .execution_options(populate_existing=True)
        )
        return (await self.session.scalars(query)).one()

    async def routing_code_by_id(self, tenant_id: str, code_id: str) -> RoutingCode | None:
        return of_tenant(await self.session.get(RoutingCode, code_id), tenant_id)

    async def routing_codes(self, tenant_id: str, community_id: str) -> Sequence[RoutingCode]:
        query = select(RoutingCode).where(
            RoutingCode.tenant_id == tenant_id, RoutingCode.community_id == community_id
        )
        return (await self.session.scalars(query.order_by(RoutingCode.created_at))).all()


def _group_loads(rows: Any) -> list[GroupLoad]:
    return [
        GroupLoad(
            row.id,
            row.member_count,
            row.capacity,
            Requirements(row.min_tier, row.min_level),
            row.city,
            frozenset(row.tags or ()),
            row.name,
        )
        for row in rows
    ]
