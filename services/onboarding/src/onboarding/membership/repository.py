"""Queries of the onboarding service. Every lookup takes the tenant id: no query crosses tenants."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    any_,
    bindparam,
    delete,
    exists,
    false,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.orm.attributes import set_committed_value

from onboarding.domain import levels
from onboarding.domain.memberships import SEATED
from onboarding.domain.roles import Role
from onboarding.domain.routing import GroupLoad, Requirements
from onboarding.orm import (
    Application,
    Community,
    CommunityRole,
    Group,
    InviteCode,
    Member,
    MemberLevel,
    Membership,
    Payment,
    RenewalReminder,
    RoutingCode,
    RulesAcceptance,
    TenantBan,
)
from servicekit.db import Query, insert_ignore
from servicekit.tables import timers

After = tuple[datetime, str]


@dataclass(frozen=True)
class EntryContext:
    """What every way in needs to know about the member, read in one statement."""

    banned: bool  # tenant-wide
    level: int  # rewards' latest report; the base level if it never reported on them
    member_known: bool  # a directory entry exists (else a stub is written)
    display_name: str | None
    profile: dict[str, Any]
    tags: list[str]
    has_mentors: bool  # the community has mentors to assign in turn
    accepted_rules: bool  # the community's current rules version (False without rules)
    membership_id: str | None = None  # the member's membership of the community, if any


# The join's statements, built once: building a statement and its cache key costs more
# CPU than executing it (measured: about 1 ms of a join's 9), so the hot path binds
# parameters into statements made at import.
_MEMBERSHIP_OF = (
    select(Membership)
    .where(
        Membership.tenant_id == bindparam("tenant_id"),
        Membership.community_id == bindparam("community_id"),
        Membership.member_id == bindparam("member_id"),
    )
    .with_for_update()
)
_CODE_BY_NAME = select(RoutingCode).where(
    RoutingCode.tenant_id == bindparam("tenant_id"), RoutingCode.code == bindparam("code")
)
_CODE_AND_COMMUNITY = (
    select(RoutingCode, Community)
    .join(Community, Community.id == RoutingCode.community_id)
    .where(RoutingCode.tenant_id == bindparam("tenant_id"), RoutingCode.code == bindparam("code"))
)
_LOAD_COLUMNS = (
    Group.id,
    Group.member_count,
    Group.capacity,
    Group.min_tier,
    Group.min_level,
    Group.city,
    Group.tags,
    Group.name,
)
_CODE_LOADS = select(*_LOAD_COLUMNS).where(
    Group.tenant_id == bindparam("tenant_id"),
    Group.community_id == bindparam("community_id"),
    or_(
        Group.id.in_(bindparam("group_ids", expanding=True)),
        Group.routing_code_id == bindparam("code_id"),
    ),
)
_FREE = Group.member_count < Group.capacity
_TAKE_SEAT = (
    update(Group)
    .where(Group.id == bindparam("group_id"), _FREE)
    .values(member_count=Group.member_count + 1)
    .returning(Group.member_count, Group.capacity)
    .execution_options(synchronize_session=False)
)
# PostgreSQL: the first group in the given order that has room and that no other
# transaction holds, seated in one statement whatever the number of groups. NO KEY UPDATE
# is the lock the UPDATE itself takes: FOR UPDATE would also skip groups that uncommitted
# memberships reference by foreign key.
_ORDERED_IDS = bindparam("group_ids", type_=postgresql.ARRAY(String))
_FIRST_FREE_UNHELD = (
    select(Group.id)
    .where(Group.id == any_(_ORDERED_IDS), _FREE)
    .order_by(func.array_position(_ORDERED_IDS, Group.id))
    .limit(1)
    .with_for_update(skip_locked=True, key_share=True)
    .scalar_subquery()
)
_TAKE_FIRST_UNHELD_SEAT = (
    update(Group)
    .where(Group.id == _FIRST_FREE_UNHELD, _FREE)
    .values(member_count=Group.member_count + 1)
    .returning(Group.id, Group.member_count, Group.capacity)
    .execution_options(synchronize_session=False)
)


def _entry_context_statement(with_rules: bool) -> Select[Any]:
    tenant_id = bindparam("tenant_id", type_=String)
    member_id = bindparam("member_id", type_=String)
    community_id = bindparam("community_id", type_=String)

    def of_member(column: InstrumentedAttribute[Any]) -> Any:
        return (
            select(column)
            .where(Member.tenant_id == tenant_id, Member.external_id == member_id)
            .scalar_subquery()
        )

    banned = exists().where(TenantBan.tenant_id == tenant_id, TenantBan.member_id == member_id)
    level = (
        select(MemberLevel.level)
        .where(MemberLevel.tenant_id == tenant_id, MemberLevel.member_id == member_id)
        .scalar_subquery()
    )
    mentors = exists().where(
        CommunityRole.tenant_id == tenant_id,
        CommunityRole.community_id == community_id,
        CommunityRole.role == Role.MENTOR,
        CommunityRole.revoked_at.is_(None),
    )
    accepted = (
        exists().where(
            RulesAcceptance.tenant_id == tenant_id,
            RulesAcceptance.community_id == community_id,
            RulesAcceptance.member_id == member_id,
            RulesAcceptance.version == bindparam("rules_version"),
        )
        if with_rules
        else false()
    )
    return select(
        banned.label("banned"),
        level.label("level"),
        of_member(Member.id).label("member_id"),
        of_member(Member.display_name).label("display_name"),
        of_member(Member.profile).label("profile"),
        of_member(Member.tags).label("tags"),
        mentors.label("has_mentors"),
        accepted.label("accepted"),
        select(Membership.id)
        .where(
            Membership.tenant_id == tenant_id,
            Membership.community_id == community_id,
            Membership.member_id == member_id,
        )
        .scalar_subquery()
        .label("membership_id"),
    )


_ENTRY_CONTEXT = {True: _entry_context_statement(True), False: _entry_context_statement(False)}


class Repository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, row: object) -> None:
        self.session.add(row)

    async def flush(self) -> None:
        await self.session.flush()

    # members
    async def member(self, tenant_id: str, external_id: str) -> Member | None:
        return await self.session.scalar(
            select(Member).where(Member.tenant_id == tenant_id, Member.external_id == external_id)
        )

    async def insert_member_if_absent(self, member: Member) -> bool:
        """True when inserted; concurrent upserts of one member never fail on the unique key."""
        values = {c.name: getattr(member, c.key) for c in Member.__table__.columns}
        return await insert_ignore(self.session, Member.__table__, values)  # type: ignore[arg-type]

    # communities
    async def community(self, tenant_id: str, community_id: str) -> Community | None:
        # By primary key: a use case looks its community up several times, and the session's
        # identity map answers all but the first without a round trip.
        return _of_tenant(await self.session.get(Community, community_id), tenant_id)

    async def communities_page(
        self, tenant_id: str, *, visible_to: str | None, after: After | None, limit: int
    ) -> Sequence[Community]:
        """All of the tenant's communities, or (``visible_to`` a member) public ones + theirs."""
        query = select(Community).where(Community.tenant_id == tenant_id)
        if visible_to is not None:
            theirs = select(Membership.community_id).where(
                Membership.tenant_id == tenant_id, Membership.member_id == visible_to
            )
            query = query.where(or_(Community.visibility == "public", Community.id.in_(theirs)))
        ordered = oldest_first(query, Community.created_at, Community.id, after, limit)
        return (await self.session.scalars(ordered)).all()

    # groups
    async def groups(self, tenant_id: str, community_id: str) -> Sequence[Group]:
        query = select(Group).where(
            Group.tenant_id == tenant_id, Group.community_id == community_id
        )
        return (await self.session.scalars(query.order_by(Group.created_at, Group.id))).all()

    async def group_names(self, community_id: str) -> set[str]:
        names = await self.session.scalars(
            select(Group.name).where(Group.community_id == community_id)
        )
        return set(names)

    async def group_loads(self, code: RoutingCode) -> list[GroupLoad]:
        """Fresh counts of a code's groups (its chosen ones and the overflow it opened).

        Columns, not ORM objects: the identity map would hand back stale counts.
        """
        params = {
            "tenant_id": code.tenant_id,
            "community_id": code.community_id,
            "group_ids": list(code.group_ids),
            "code_id": code.id,
        }
        return _group_loads(await self.session.execute(_CODE_LOADS, params))

    async def kind_loads(self, tenant_id: str, community_id: str, kind: str) -> list[GroupLoad]:
        """Fresh counts of every group of one kind in the community (an upgrade's targets)."""
        return await self._loads(
            Group.tenant_id == tenant_id, Group.community_id == community_id, Group.kind == kind
        )

    async def _loads(self, *where: ColumnElement[bool]) -> list[GroupLoad]:
        return _group_loads(await self.session.execute(select(*_LOAD_COLUMNS).where(*where)))

    async def group(self, tenant_id: str, community_id: str, group_id: str) -> Group | None:
        return await self.session.scalar(
            select(Group)
            .where(
                Group.tenant_id == tenant_id,
                Group.community_id == community_id,
                Group.id == group_id,
            )
            .with_for_update()
            .execution_options(populate_existing=True)
        )

    async def set_capacity(self, group_id: str, capacity: int) -> bool:
        """Conditional: never below the members seated now (False then)."""
        result = await self.session.execute(
            update(Group)
            .where(Group.id == group_id, Group.member_count <= capacity)
            .values(capacity=capacity)
            .returning(Group.id)
            .execution_options(synchronize_session=False)
        )
        return result.first() is not None

    async def trial_group_seats(
        self, tenant_id: str, member_id: str
    ) -> Sequence[tuple[Membership, Community]]:
        """The member's seated memberships in a trial-kind group, with their communities."""
        query = (
            select(Membership, Community)
            .join(Group, Group.id == Membership.group_id)
            .join(Community, Community.id == Membership.community_id)
            .where(
                Membership.tenant_id == tenant_id,
                Membership.member_id == member_id,
                Membership.status.in_([str(s) for s in SEATED]),
                Group.kind == "trial",
            )
            .with_for_update(of=Membership)
        )
        return [(row[0], row[1]) for row in await self.session.execute(query)]

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

    async def free_seat(self, group_id: str) -> None:
        await self.session.execute(
            update(Group)
            .where(Group.id == group_id, Group.member_count > 0)
            .values(member_count=Group.member_count - 1)
            .execution_options(synchronize_session=False)
        )

    # routing codes
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
        return _of_tenant(await self.session.get(RoutingCode, code_id), tenant_id)

    async def routing_codes(self, tenant_id: str, community_id: str) -> Sequence[RoutingCode]:
        query = select(RoutingCode).where(
            RoutingCode.tenant_id == tenant_id, RoutingCode.community_id == community_id
        )
        return (await self.session.scalars(query.order_by(RoutingCode.created_at))).all()

    # memberships
    async def membership(self, tenant_id: str, membership_id: str) -> Membership | None:
        return await self.session.scalar(
            select(Membership)
            .where(Membership.tenant_id == tenant_id, Membership.id == membership_id)
            .with_for_update()
        )

    async def membership_of(
        self, tenant_id: str, community_id: str, member_id: str
    ) -> Membership | None:
        params = {"tenant_id": tenant_id, "community_id": community_id, "member_id": member_id}
        return await self.session.scalar(_MEMBERSHIP_OF, params)

    async def memberships_page(
        self,
        tenant_id: str,
        *,
        community_id: str | None,
        member_id: str | None,
        status: str | None,
        after: After | None,
        limit: int,
    ) -> Sequence[Membership]:
        query = select(Membership).where(Membership.tenant_id == tenant_id)
        if community_id:
            query = query.where(Membership.community_id == community_id)
        if member_id:
            query = query.where(Membership.member_id == member_id)
        if status:
            query = query.where(Membership.status == status)
        ordered = oldest_first(query, Membership.created_at, Membership.id, after, limit)
        return (await self.session.scalars(ordered)).all()

    # payments
    async def payment_by_reference(self, tenant_id: str, reference: str) -> Payment | None:
        return await self.session.scalar(
            select(Payment).where(Payment.tenant_id == tenant_id, Payment.reference == reference)
        )

    async def latest_payment(self, membership_id: str) -> Payment | None:
        return await self.session.scalar(
            select(Payment)
            .where(Payment.membership_id == membership_id)
            .order_by(Payment.paid_at.desc(), Payment.id.desc())
            .limit(1)
        )

    # applications
    async def application(self, tenant_id: str, application_id: str) -> Application | None:
        return await self.session.scalar(
            select(Application)
            .where(Application.tenant_id == tenant_id, Application.id == application_id)
            .with_for_update()
        )

    async def latest_application(self, membership_id: str) -> Application | None:
        return await self.session.scalar(
            select(Application)
            .where(Application.membership_id == membership_id)
            .order_by(Application.created_at.desc(), Application.id.desc())
            .limit(1)
        )

    async def applications_page(
        self,
        tenant_id: str,
        *,
        community_id: str | None,
        member_id: str | None,
        status: str | None,
        after: After | None,
        limit: int,
    ) -> Sequence[Application]:
        """Oldest first: the review queue is worked in the order members applied."""
        query = select(Application).where(Application.tenant_id == tenant_id)
        if community_id:
            query = query.where(Application.community_id == community_id)
        if member_id:
            query = query.where(Application.member_id == member_id)
        if status:
            query = query.where(Application.status == status)
        ordered = oldest_first(query, Application.created_at, Application.id, after, limit)
        return (await self.session.scalars(ordered)).all()

    # invites
    async def invite(self, tenant_id: str, code: str) -> InviteCode | None:
        return await self.session.scalar(
            select(InviteCode).where(InviteCode.tenant_id == tenant_id, InviteCode.code == code)
        )

    async def invite_by_id(self, tenant_id: str, invite_id: str) -> InviteCode | None:
        return await self.session.scalar(
            select(InviteCode).where(InviteCode.tenant_id == tenant_id, InviteCode.id == invite_id)
        )

    async def invites_page(
        self, tenant_id: str, *, community_id: str | None, after: After | None, limit: int
    ) -> Sequence[InviteCode]:
        query = select(InviteCode).where(InviteCode.tenant_id == tenant_id)
        if community_id:
            query = query.where(InviteCode.community_id == community_id)
        ordered = oldest_first(query, InviteCode.created_at, InviteCode.id, after, limit)
        return (await self.session.scalars(ordered)).all()

    async def take_invite_use(self, invite: InviteCode, now: datetime) -> bool:
        """Conditional increment: True when a use was left (and the invite still valid).

        Like ``take_seat``, the WHERE is re-checked on the latest row version, so concurrent
        redemptions never take more than ``max_uses``. ``invite.uses`` is refreshed without
        marking it changed (a flush must not write the count back).
        """
        result = await self.session.execute(
            update(InviteCode)
            .where(
                InviteCode.id == invite.id,
                InviteCode.revoked_at.is_(None),
                or_(InviteCode.max_uses.is_(None), InviteCode.uses < InviteCode.max_uses),
                or_(InviteCode.expires_at.is_(None), InviteCode.expires_at > now),
            )
            .values(uses=InviteCode.uses + 1)
            .returning(InviteCode.uses)
            .execution_options(synchronize_session=False)
        )
        uses = result.scalar()
        if uses is None:
            return False
        set_committed_value(invite, "uses", uses)
        return True

    # timers and reminders
    async def cancel_pending_timers(self, kind: str, key_prefix: str) -> None:
        await self.session.execute(
            delete(timers).where(
                timers.c.kind == kind,
                timers.c.key.startswith(key_prefix, autoescape=True),
                timers.c.fired_at.is_(None),
            )
        )

    async def insert_reminder_if_absent(self, row: RenewalReminder) -> bool:
        values = {c.name: getattr(row, c.key) for c in RenewalReminder.__table__.columns}
        return await insert_ignore(self.session, RenewalReminder.__table__, values)  # type: ignore[arg-type]

    # levels (the projection of rewards' level.changed)
    async def member_level(self, tenant_id: str, member_id: str) -> MemberLevel | None:
        return await self.session.get(MemberLevel, (tenant_id, member_id))

    async def insert_level_if_absent(self, row: MemberLevel) -> bool:
        values = {c.name: getattr(row, c.key) for c in MemberLevel.__table__.columns}
        return await insert_ignore(self.session, MemberLevel.__table__, values)  # type: ignore[arg-type]

    # the entry gate's moderation checks (rules acceptance, tenant-wide bans)
    async def entry_context(
        self, tenant_id: str, community_id: str, member_id: str, rules_version: int | None
    ) -> EntryContext:
        """Ban, level, directory entry, mentors and rules acceptance: one round trip."""
        params = {
            "tenant_id": tenant_id,
            "community_id": community_id,
            "member_id": member_id,
            "rules_version": rules_version,
        }
        statement = _ENTRY_CONTEXT[rules_version is not None]
        if rules_version is None:
            del params["rules_version"]
        row = (await self.session.execute(statement, params)).one()
        return EntryContext(
            banned=bool(row.banned),
            level=row.level if row.level is not None else levels.BASE_LEVEL,
            member_known=row.member_id is not None,
            display_name=row.display_name,
            profile=_json(row.profile, dict),
            tags=_json(row.tags, list),
            has_mentors=bool(row.has_mentors),
            accepted_rules=bool(row.accepted),
            membership_id=row.membership_id,
        )

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


class _Owned(Protocol):
    tenant_id: str


Row = TypeVar("Row", bound=_Owned)


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


def _json(value: Any, kind: type) -> Any:
    """A JSON column read through a scalar subquery arrives untyped (a string on SQLite)."""
    if isinstance(value, str):
        value = json.loads(value)
    return value if isinstance(value, kind) else kind()


def _of_tenant(row: Row | None, tenant_id: str) -> Row | None:
    """A row found by primary key, if it is the tenant's (another tenant's is not found)."""
    return row if row is not None and row.tenant_id == tenant_id else None


def oldest_first(
    query: Query,
    created_at: InstrumentedAttribute[datetime],
    row_id: InstrumentedAttribute[str],
    after: After | None,
    limit: int,
) -> Query:
    """A page of ``query`` in (created_at, id) order, starting after the cursor's row."""
    if after is not None:
        query = query.where(keyset(created_at, row_id, after))
    return query.order_by(created_at, row_id).limit(limit)


def keyset(
    created_at: InstrumentedAttribute[datetime],
    row_id: InstrumentedAttribute[str],
    after: After,
) -> ColumnElement[bool]:
    """Keyset condition: rows strictly after (created_at, id) in that order."""
    at, last_id = after
    return or_(created_at > at, and_(created_at == at, row_id > last_id))
