"""Queries of the Membership aggregate and what every way in reads with it: the row, its
community, the member's directory entry and the entry context. Every lookup takes the tenant
id: no query crosses tenants."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Select,
    String,
    Table,
    bindparam,
    exists,
    false,
    insert,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, make_transient_to_detached

from onboarding.levels import domain as levels
from onboarding.orm import (
    Community,
    CommunityRole,
    Member,
    MemberLevel,
    Membership,
    RulesAcceptance,
    TenantBan,
)
from onboarding.queries import After, insert_if_absent, of_tenant, oldest_first, row_of
from onboarding.roles.domain import Role

_MEMBERSHIPS: Table = Membership.__table__  # type: ignore[assignment]
_INSERT_MEMBERSHIP = insert(_MEMBERSHIPS)


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
# parameters into statements made at import (the seat's are in joins/repository.py).
_MEMBERSHIP_OF = (
    select(Membership)
    .where(
        Membership.tenant_id == bindparam("tenant_id"),
        Membership.community_id == bindparam("community_id"),
        Membership.member_id == bindparam("member_id"),
    )
    .with_for_update()
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
    # members
    async def member(self, tenant_id: str, external_id: str) -> Member | None:
        return await self.session.scalar(
            select(Member).where(Member.tenant_id == tenant_id, Member.external_id == external_id)
        )

    async def insert_new(self, membership: Membership) -> None:
        """A new membership's row in one Core INSERT; the object is then in the session as if
        loaded, so later changes are UPDATEs. On the join path the ORM's unit of work for
        this one row cost more CPU than the INSERT itself."""
        await self.session.execute(_INSERT_MEMBERSHIP, row_of(membership))
        make_transient_to_detached(membership)
        self.session.add(membership)

    async def insert_member_if_absent(self, member: Member) -> bool:
        """True when inserted; concurrent upserts of one member never fail on the unique key."""
        return await insert_if_absent(self.session, member)

    # communities
    # communities
    async def community(self, tenant_id: str, community_id: str) -> Community | None:
        # By primary key: a use case looks its community up several times, and the session's
        # identity map answers all but the first without a round trip.
        return of_tenant(await self.session.get(Community, community_id), tenant_id)

    # memberships
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

    async def membership_read(
        self, tenant_id: str, community_id: str, member_id: str
    ) -> Membership | None:
        """The member's membership of the community, unlocked (for reads)."""
        return await self.session.scalar(
            select(Membership).where(
                Membership.tenant_id == tenant_id,
                Membership.community_id == community_id,
                Membership.member_id == member_id,
            )
        )

    async def memberships_page(
        self,
        tenant_id: str,
        *,
        community_id: str | None,
        member_id: str | None,
        status: str | None,
        after: After | None,
        limit: int,
        waiting: bool | None = None,
    ) -> Sequence[Membership]:
        query = select(Membership).where(Membership.tenant_id == tenant_id)
        if waiting is not None:
            since = Membership.seat_waiting_since
            query = query.where(since.is_not(None) if waiting else since.is_(None))
        if community_id:
            query = query.where(Membership.community_id == community_id)
        if member_id:
            query = query.where(Membership.member_id == member_id)
        if status:
            query = query.where(Membership.status == status)
        ordered = oldest_first(query, Membership.created_at, Membership.id, after, limit)
        return (await self.session.scalars(ordered)).all()

    # what every way in reads (bans, level, directory entry, mentors, rules acceptance)
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


def _json(value: Any, kind: type) -> Any:
    """A JSON column read through a scalar subquery arrives untyped (a string on SQLite)."""
    if isinstance(value, str):
        value = json.loads(value)
    return value if isinstance(value, kind) else kind()
