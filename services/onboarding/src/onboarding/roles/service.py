"""Use cases of community roles and titles, mentors and the newcomer welcome (新人报道).

Grants and revocations are rows with their events (role.granted, role.revoked) and audit
records, written in one transaction. Grants in a community run one at a time under the
community row's lock, so the guest speaker limit and "already granted" hold under concurrent
requests. The hooks at the bottom run inside the Membership aggregate's steps
(membership/service.py): a mentor and the welcome on arrival, the end of every role when the
seat is lost.

This module must not import membership/service.py (which calls the hooks here).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from onboarding import events
from onboarding.audit import service as audit
from onboarding.audit.service import SYSTEM, Actor
from onboarding.membership.repository import Repository
from onboarding.membership.states import Status, holds_seat
from onboarding.orm import Community, CommunityRole, Membership
from onboarding.permissions import (
    authorize,
    community_roles,
    is_tenant_manager,
    is_tenant_operator,
)
from onboarding.queries import After
from onboarding.roles.domain import (
    DEFAULT_TEMPLATE,
    NEWCOMER,
    InvalidGrant,
    Permission,
    Role,
    TemplateError,
    check_grant,
    check_template,
    needs_elevation,
    next_mentor,
    permits,
    render,
)
from onboarding.roles.repository import RoleRepository, rotation_key
from servicekit.auth import Principal
from servicekit.db import read_only, transaction
from servicekit.events import Event
from servicekit.outbox import add_event
from servicekit.problems import Problem, not_found
from servicekit.types import utcnow


@dataclass(frozen=True)
class NewGrant:
    member_id: str
    role: Role
    group_id: str | None = None  # the local group a regional leader leads
    title: str | None = None  # the text of a title (role ``title``)
    reason: str | None = None


@dataclass(frozen=True)
class Granted:
    grant: CommunityRole
    created: bool  # False: the member already held this role; the existing grant is returned


@dataclass(frozen=True)
class RoleQuery:
    role: Role | None = None
    member_id: str | None = None
    active_only: bool = True


def forbidden(detail: str) -> Problem:
    return Problem(403, "forbidden", "Forbidden", detail)


class Roles:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    # ------------------------------------------------------------------ grants

    async def grant(self, principal: Principal, community_id: str, draft: NewGrant) -> Granted:
        tenant_id = principal.tenant_id
        async with transaction(self.sessions) as session:
            repo = RoleRepository(session)
            community = await repo.lock_community(tenant_id, community_id)
            if community is None:
                raise not_found("community")
            actor = await authorize(session, principal, community_id, Permission.MANAGE_ROLES)
            await _check_elevation(session, principal, community_id, draft.role)
            await _check_draft(repo, community, draft)
            membership = await Repository(session).membership_of(
                tenant_id, community_id, draft.member_id
            )
            if membership is None or not holds_seat(Status(membership.status)):
                raise Problem(
                    409, "not-a-member", "Not a member", "roles go to members holding a seat"
                )
            held = await repo.active_roles(tenant_id, community_id, draft.member_id)
            same = _same_grant(held, draft)
            if same is not None:
                return Granted(same, created=False)
            if draft.role is Role.GUEST_SPEAKER:
                await _check_limit(repo, community)
            grant = _new_grant(community, draft, actor)
            session.add(grant)
            await session.flush()
            await add_event(session, events.role_granted(grant))
            await _audit(session, actor, "role.granted", grant, draft.reason)
            return Granted(grant, created=True)

    async def revoke(
        self, principal: Principal, community_id: str, grant_id: str, reason: str | None
    ) -> CommunityRole:
        """End a grant; revoking one already ended returns it unchanged (no new event)."""
        tenant_id = principal.tenant_id
        async with transaction(self.sessions) as session:
            repo = RoleRepository(session)
            if await repo.lock_community(tenant_id, community_id) is None:
                raise not_found("community")
            actor = await authorize(session, principal, community_id, Permission.MANAGE_ROLES)
            grant = await repo.grant(tenant_id, grant_id)
            if grant is None or grant.community_id != community_id:
                raise not_found("role grant")
            await _check_elevation(session, principal, community_id, Role(grant.role))
            if grant.revoked_at is not None:
                return grant
            _end(grant, actor.id, reason, utcnow())
            await add_event(session, events.role_revoked(grant, seat_lost=False))
            await _audit(session, actor, "role.revoked", grant, reason)
            return grant

    async def roles(
        self,
        principal: Principal,
        community_id: str,
        query: RoleQuery,
        *,
        after: After | None,
        limit: int,
    ) -> Sequence[CommunityRole]:
        """Role managers see every grant (revoked ones too unless ``active_only``); other
        members of the community see who holds which role now (mentors, 嘉宾, titles...)."""
        tenant_id = principal.tenant_id
        async with read_only(self.sessions) as session:
            repo = RoleRepository(session)
            if await Repository(session).community(tenant_id, community_id) is None:
                raise not_found("community")
            active_only = query.active_only
            if not await _manages_roles(session, principal, community_id):
                if principal.token_type != "member" or not await repo.seated(
                    tenant_id, community_id, principal.subject
                ):
                    raise forbidden("members of this community and role managers only")
                active_only = True
            return await repo.page(
                tenant_id,
                community_id=community_id,
                member_id=query.member_id,
                role=query.role,
                active_only=active_only,
                after=after,
                limit=limit,
            )

    async def member_roles(
        self, tenant_id: str, member_id: str, *, after: After | None, limit: int
    ) -> Sequence[CommunityRole]:
        """The member's roles and titles held now, across communities."""
        async with read_only(self.sessions) as session:
            return await RoleRepository(session).page(
                tenant_id,
                community_id=None,
                member_id=member_id,
                role=None,
                active_only=True,
                after=after,
                limit=limit,
            )

    async def reviewer(self, principal: Principal, application_id: str) -> Actor:
        """Who decides the application: an operator, or a member whose role in its community
        reviews applications (403 otherwise; an unknown id is a 404)."""
        async with read_only(self.sessions) as session:
            community_id = await RoleRepository(session).application_community(
                principal.tenant_id, application_id
            )
            if community_id is None:
                raise not_found("application")
            return await authorize(session, principal, community_id, Permission.REVIEW_APPLICATIONS)

    # ---------------------------------------------------------------- welcome

    async def set_welcome_template(
        self, principal: Principal, community_id: str, template: str | None
    ) -> Community:
        """The newcomer greeting (None: back to the default one)."""
        if template is not None:
            try:
                check_template(template)
            except TemplateError as error:
                raise Problem(422, "invalid-template", "Invalid template", str(error)) from error
        async with transaction(self.sessions) as session:
            community = await Repository(session).community(principal.tenant_id, community_id)
            if community is None:
                raise not_found("community")
            actor = await authorize(session, principal, community_id, Permission.MANAGE_COMMUNITY)
            community.welcome_template = template
            now = utcnow()
            await add_event(session, events.community_updated(community, ["welcome_template"], now))
            await audit.record(
                session,
                community.tenant_id,
                actor,
                "community.welcome_template_set",
                target_kind="community",
                target_id=community.id,
                community_id=community.id,
                details={"template": template},
            )
            return community

    async def welcome_template(self, principal: Principal, community_id: str) -> Community:
        async with read_only(self.sessions) as session:
            community = await Repository(session).community(principal.tenant_id, community_id)
            if community is None:
                raise not_found("community")
            await authorize(session, principal, community_id, Permission.WELCOME)
            return community


# ---------------------------------------------------------------- checks


async def _manages_roles(session: AsyncSession, principal: Principal, community_id: str) -> bool:
    if is_tenant_operator(principal):
        return True
    return permits(await community_roles(session, principal, community_id), Permission.MANAGE_ROLES)


async def _check_elevation(
    session: AsyncSession, principal: Principal, community_id: str, role: Role
) -> None:
    """Owner and admin grants change who controls the community: tenant owners and admins,
    or the community's own owner, only."""
    if not needs_elevation(role) or is_tenant_manager(principal):
        return
    if Role.OWNER in await community_roles(session, principal, community_id):
        return
    raise forbidden(
        "only tenant owners and admins, or the community's owner, grant or revoke owner and admin"
    )


async def _check_draft(repo: RoleRepository, community: Community, draft: NewGrant) -> None:
    try:
        check_grant(draft.role, group_id=draft.group_id, title=draft.title)
    except InvalidGrant as error:
        raise Problem(422, "invalid-grant", "Invalid grant", str(error)) from error
    if draft.group_id is None:
        return
    group = await repo.group(community.tenant_id, community.id, draft.group_id)
    if group is None or group.kind != "local":
        raise Problem(
            422,
            "not-a-local-group",
            "Not a local group",
            "a regional leader (分舵舵主) leads a local group of this community",
        )


async def _check_limit(repo: RoleRepository, community: Community) -> None:
    held = await repo.active_count(community.tenant_id, community.id, Role.GUEST_SPEAKER)
    if held >= community.guest_speaker_limit:
        raise Problem(
            409,
            "role-limit-reached",
            "Role limit reached",
            f"the community has its {community.guest_speaker_limit} guest speakers",
            limit=community.guest_speaker_limit,
        )


def _same_grant(held: Sequence[CommunityRole], draft: NewGrant) -> CommunityRole | None:
    for grant in held:
        if (grant.role, grant.group_id, grant.title) == (draft.role, draft.group_id, draft.title):
            return grant
    return None


def _new_grant(community: Community, draft: NewGrant, actor: Actor) -> CommunityRole:
    return CommunityRole(
        id=str(uuid.uuid4()),
        tenant_id=community.tenant_id,
        community_id=community.id,
        member_id=draft.member_id,
        role=draft.role,
        group_id=draft.group_id,
        title=draft.title,
        reason=draft.reason,
        granted_by=actor.id,
        granted_at=utcnow(),
        revoked_at=None,
        revoked_by=None,
        revoke_reason=None,
    )


def _end(grant: CommunityRole, by: str, reason: str | None, at: datetime) -> None:
    grant.revoked_at, grant.revoked_by, grant.revoke_reason = at, by, reason


async def _audit(
    session: AsyncSession, actor: Actor, action: str, grant: CommunityRole, reason: str | None
) -> None:
    await audit.record(
        session,
        grant.tenant_id,
        actor,
        action,
        target_kind="member",
        target_id=grant.member_id,
        community_id=grant.community_id,
        reason=reason,
        details={
            "grant_id": grant.id,
            "role": grant.role,
            "group_id": grant.group_id,
            "title": grant.title,
        },
    )


# ---------------------------------------------------------------- hooks of the membership cases


async def end_roles(session: AsyncSession, membership: Membership, status: Status) -> None:
    """The member lost their seat (left, expired, removed, banned, refunded): roles end too."""
    repo = RoleRepository(session)
    grants = await repo.active_roles(
        membership.tenant_id, membership.community_id, membership.member_id
    )
    now, reason = utcnow(), f"membership {status}"
    for grant in grants:
        _end(grant, SYSTEM.id, reason, now)
        await add_event(session, events.role_revoked(grant, seat_lost=True))
        await _audit(session, SYSTEM, "role.revoked", grant, reason)


async def assign_mentor(session: AsyncSession, membership: Membership) -> None:
    """On arrival: the next mentor in the community's turn; a mentor once given is kept."""
    if membership.mentor_id is not None:
        return
    repo = RoleRepository(session)
    tenant_id, community_id = membership.tenant_id, membership.community_id
    if not await repo.mentors(tenant_id, community_id):
        return  # no mentors: no lock taken
    rotation = await repo.lock_rotation(tenant_id, community_id)
    mentors = [
        m
        for m in await repo.mentors(tenant_id, community_id)
        if m.member_id != membership.member_id
    ]
    chosen = next_mentor(mentors, rotation_key(rotation))
    if chosen is None:
        return
    rotation.last_granted_at, rotation.last_grant_id = chosen.key.granted_at, chosen.key.grant_id
    membership.mentor_id = chosen.member_id


async def welcome(session: AsyncSession, membership: Membership) -> None:
    """On arrival: member.welcomed, with the names it greets read here."""
    repo, roles = Repository(session), RoleRepository(session)
    tenant_id = membership.tenant_id
    community = await repo.community(tenant_id, membership.community_id)
    assert community is not None
    member = await repo.member(tenant_id, membership.member_id)
    mentor = await repo.member(tenant_id, membership.mentor_id) if membership.mentor_id else None
    group = (
        await roles.group(tenant_id, community.id, membership.group_id)
        if membership.group_id
        else None
    )
    event = welcome_event(
        membership,
        community,
        display_name=member.display_name if member else None,
        group_name=group.name if group else None,
        mentor_name=mentor.display_name if mentor else None,
        at=utcnow(),
    )
    await add_event(session, event)


def welcome_event(
    membership: Membership,
    community: Community,
    *,
    display_name: str | None,
    group_name: str | None,
    mentor_name: str | None,
    at: datetime,
) -> Event:
    """member.welcomed with the rendered greeting and what it was made of (no I/O: the join
    passes the names it has already read)."""
    values = {
        "member_name": display_name or NEWCOMER,
        "community_name": community.name,
        "mentor_name": mentor_name,
        "group_name": group_name,
    }
    try:
        text = render(community.welcome_template or DEFAULT_TEMPLATE, values)
    except TemplateError:  # templates are checked when set; never fail an activation over one
        text = render(DEFAULT_TEMPLATE, values)
    return events.member_welcomed(
        membership,
        community,
        display_name=display_name,
        group_name=group_name,
        mentor_name=mentor_name,
        text=text,
        at=at,
    )
