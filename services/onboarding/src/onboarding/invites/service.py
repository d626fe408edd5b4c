"""Use cases of invite codes (邀请码): operators issue them, members redeem them.

An invite opens any community (private and secret ones too) and records who invited whom:
``membership.activated`` carries ``{kind: invite, code, channel, inviter_id}``. It never lets
anyone past the other policies: a paid community still waits for the payment, one with a
questionnaire takes an application (submitted with the invite code).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from onboarding import events
from onboarding.audit import service as audit
from onboarding.audit.service import Actor
from onboarding.communities.repository import CommunityRepository
from onboarding.ids import new_id
from onboarding.invites.domain import (
    Inviter,
    MemberInvitePolicy,
    check_member_invite,
    link_expiry,
)
from onboarding.invites.repository import InviteRepository
from onboarding.joins.repository import JoinRepository
from onboarding.levels import domain as levels
from onboarding.levels.repository import LevelRepository
from onboarding.membership.repository import Repository
from onboarding.membership.service import (
    Joined,
    Source,
    check_entry,
    decide,
    enter,
    new_membership,
    record_source,
    reusable,
)
from onboarding.membership.states import Status
from onboarding.orm import InviteCode, Membership
from onboarding.problems import application_required, conflict, unprocessable
from onboarding.queries import After
from servicekit.db import read_only, transaction
from servicekit.outbox import add_event
from servicekit.problems import Problem, not_found
from servicekit.types import utcnow

# No 0/O or 1/I/L: codes are read aloud and typed from posters.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8


@dataclass(frozen=True)
class NewInvite:
    community_id: str
    code: str | None = None  # generated when not given
    channel: str | None = None
    inviter_id: str | None = None  # a member of the community, credited for the invitees
    target_group_id: str | None = None
    max_uses: int | None = 1  # 1: single use; None: unlimited
    expires_at: datetime | None = None


def generate_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


class Invites:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def create(self, tenant_id: str, draft: NewInvite, actor: Actor) -> InviteCode:
        code = draft.code or generate_code()
        try:
            async with transaction(self.sessions) as session:
                await _check_invite(Repository(session), tenant_id, draft)
                invite = _invite_row(tenant_id, draft, code, created_by=actor.id)
                session.add(invite)
                await session.flush()
                await audit.record(
                    session,
                    tenant_id,
                    actor,
                    "invite.created",
                    target_kind="invite",
                    target_id=invite.id,
                    community_id=invite.community_id,
                    details={"code": code, "inviter_id": draft.inviter_id},
                )
                return invite
        except IntegrityError as error:
            detail = f"the invite code {code!r} exists"
            raise conflict("code-taken", "Code taken", detail) from error

    async def create_for_member(
        self, tenant_id: str, member_id: str, community_id: str, channel: str | None
    ) -> InviteCode:
        """A member's own link (they are its inviter), if the community's policy lets them
        (invites.domain); its terms come from the policy."""
        code = generate_code()
        try:
            async with transaction(self.sessions) as session:
                repo = Repository(session)
                community = await repo.community(tenant_id, community_id)
                if community is None:
                    raise not_found("community")
                # Locked (FOR UPDATE): one member's concurrent requests count their links in turn.
                membership = await repo.membership_of(tenant_id, community_id, member_id)
                if membership is None and community.visibility != "public":
                    raise not_found("community")
                policy = MemberInvitePolicy.of(community.member_invites)
                now = utcnow()
                decide(check_member_invite, policy, await _inviter(session, membership, now))
                draft = NewInvite(
                    community_id=community_id,
                    channel=channel,
                    inviter_id=member_id,
                    max_uses=policy.max_uses,
                    expires_at=link_expiry(policy, now),
                )
                invite = _invite_row(tenant_id, draft, code, created_by=member_id)
                session.add(invite)
                await session.flush()
                await audit.record(
                    session,
                    tenant_id,
                    Actor(member_id, "member"),
                    "invite.created",
                    target_kind="invite",
                    target_id=invite.id,
                    community_id=community_id,
                    details={"code": code, "inviter_id": member_id},
                )
                return invite
        except IntegrityError as error:  # a generated code met an existing one: ask again
            detail = "the generated code exists: try again"
            raise conflict("code-taken", "Code taken", detail) from error

    async def policy(
        self, tenant_id: str, community_id: str, *, member_id: str | None = None
    ) -> MemberInvitePolicy:
        """The policy; a member (``member_id``) sees it for public communities and theirs."""
        async with read_only(self.sessions) as session:
            repo = Repository(session)
            community = await repo.community(tenant_id, community_id)
            hidden = (
                community is not None
                and member_id is not None
                and community.visibility != "public"
                and await repo.membership_read(tenant_id, community_id, member_id) is None
            )
        if community is None or hidden:
            raise not_found("community")
        return MemberInvitePolicy.of(community.member_invites)

    async def set_policy(
        self, tenant_id: str, community_id: str, policy: MemberInvitePolicy, *, actor: Actor
    ) -> MemberInvitePolicy:
        """Applies to links created from now on; existing links keep their terms."""
        async with transaction(self.sessions) as session:
            community = await Repository(session).community(tenant_id, community_id)
            if community is None:
                raise not_found("community")
            community.member_invites = policy.to_json()
            await audit.record(
                session,
                tenant_id,
                actor,
                "community.invite_policy_set",
                target_kind="community",
                target_id=community_id,
                community_id=community_id,
                details=policy.to_json(),
            )
        return policy

    async def invite(
        self, tenant_id: str, invite_id: str, *, inviter_id: str | None = None
    ) -> InviteCode:
        """An invite; with ``inviter_id`` (a member asking) only one of theirs."""
        async with read_only(self.sessions) as session:
            return await _invite_of(InviteRepository(session), tenant_id, invite_id, inviter_id)

    async def invites(
        self,
        tenant_id: str,
        *,
        community_id: str | None,
        after: After | None,
        limit: int,
        inviter_id: str | None = None,
    ) -> list[InviteCode]:
        async with read_only(self.sessions) as session:
            rows = await InviteRepository(session).invites_page(
                tenant_id,
                community_id=community_id,
                after=after,
                limit=limit,
                inviter_id=inviter_id,
            )
            return list(rows)

    async def invitees(
        self,
        tenant_id: str,
        invite_id: str,
        *,
        inviter_id: str | None,
        after: After | None,
        limit: int,
    ) -> list[tuple[Membership, str | None]]:
        """Who joined through the invite; with ``inviter_id`` only through one of theirs."""
        async with read_only(self.sessions) as session:
            repo = InviteRepository(session)
            invite = await _invite_of(repo, tenant_id, invite_id, inviter_id)
            return await repo.invitees_page(invite, after=after, limit=limit)

    async def revoke(
        self, tenant_id: str, invite_id: str, *, actor: Actor, inviter_id: str | None = None
    ) -> InviteCode:
        """No further redemptions; members who already joined with it stay."""
        async with transaction(self.sessions) as session:
            repo = InviteRepository(session)
            invite = await _invite_of(repo, tenant_id, invite_id, inviter_id)
            if inviter_id is not None and invite.created_by != inviter_id:
                detail = "an invite operators issued in your name is revoked by operators"
                raise Problem(403, "forbidden", "Forbidden", detail)
            if invite.revoked_at is None:
                invite.revoked_at = utcnow()
                await audit.record(
                    session,
                    tenant_id,
                    actor,
                    "invite.revoked",
                    target_kind="invite",
                    target_id=invite.id,
                    community_id=invite.community_id,
                )
            return invite

    async def redeem(
        self,
        tenant_id: str,
        member_id: str,
        code: str,
        accepted_rules_version: int | None = None,
        routing_code: str | None = None,
    ) -> Joined:
        # Two concurrent first joins of one member collide on the unique membership key;
        # the retry answers as a repeated join (and takes no second use).
        for attempt in (1, 2):
            try:
                async with transaction(self.sessions) as session:
                    return await _redeem_in(
                        session, tenant_id, member_id, code, accepted_rules_version, routing_code
                    )
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def _invite_row(tenant_id: str, draft: NewInvite, code: str, *, created_by: str) -> InviteCode:
    return InviteCode(
        id=new_id(),
        tenant_id=tenant_id,
        community_id=draft.community_id,
        code=code,
        channel=draft.channel,
        inviter_id=draft.inviter_id,
        target_group_id=draft.target_group_id,
        max_uses=draft.max_uses,
        uses=0,
        expires_at=draft.expires_at,
        revoked_at=None,
        created_by=created_by,
        created_at=utcnow(),
    )


async def _invite_of(
    repo: InviteRepository, tenant_id: str, invite_id: str, inviter_id: str | None
) -> InviteCode:
    invite = await repo.invite_by_id(tenant_id, invite_id)
    if invite is None or (inviter_id is not None and invite.inviter_id != inviter_id):
        raise not_found("invite")  # a member sees only their own, like another tenant's
    return invite


async def _inviter(session: AsyncSession, membership: Membership | None, now: datetime) -> Inviter:
    if membership is None:
        return Inviter(status=None, level=levels.BASE_LEVEL, active_links=0)
    known = await LevelRepository(session).member_level(membership.tenant_id, membership.member_id)
    active = await InviteRepository(session).active_links(
        membership.tenant_id, membership.community_id, membership.member_id, now
    )
    level = known.level if known else levels.BASE_LEVEL
    return Inviter(Status(membership.status), level, active)


async def _check_invite(repo: Repository, tenant_id: str, draft: NewInvite) -> None:
    if await repo.community(tenant_id, draft.community_id) is None:
        raise not_found("community")
    if draft.expires_at is not None and draft.expires_at <= utcnow():
        raise unprocessable("invalid-invite", "Invalid invite", "expires_at is in the past")
    if draft.target_group_id is not None:
        groups = await CommunityRepository(repo.session).groups(tenant_id, draft.community_id)
        if draft.target_group_id not in {g.id for g in groups}:
            detail = "target_group_id is not a group of this community"
            raise unprocessable("unknown-groups", "Unknown group", detail)
    if draft.inviter_id is not None:
        inviter = await repo.membership_of(tenant_id, draft.community_id, draft.inviter_id)
        if inviter is None or Status(inviter.status) not in _MEMBERS:
            raise unprocessable(
                "inviter-not-member", "Inviter not a member", "the inviter is not in the community"
            )


# Who may invite: members in the community now (a muted member still counts as a member).
_MEMBERS = frozenset({Status.TRIAL, Status.ACTIVE, Status.MUTED})


async def _redeem_in(
    session: AsyncSession,
    tenant_id: str,
    member_id: str,
    code: str,
    accepted_rules_version: int | None = None,
    routing_code: str | None = None,
) -> Joined:
    repo = Repository(session)
    invite = await InviteRepository(session).invite(tenant_id, code)
    if invite is None:
        raise not_found("invite")
    check_usable(invite)
    placement = await placement_code(session, tenant_id, invite.community_id, routing_code)
    community = await repo.community(tenant_id, invite.community_id)
    assert community is not None
    membership = await repo.membership_of(tenant_id, community.id, member_id)
    if not reusable(membership):
        assert membership is not None
        return Joined(membership, created=False)  # already in: no use taken
    await check_entry(repo, community, member_id, accepted_rules_version)
    if community.application_form is not None:
        raise application_required(
            f"apply with answers and this invite_code: "
            f"POST /v1/onboarding/communities/{community.id}/applications"
        )
    source = replace(await take_use(session, invite, member_id), routing_code_id=placement)
    if membership is None:
        membership = await new_membership(
            session, tenant_id, community.id, member_id, Status.PENDING_PAYMENT, source
        )
    else:
        record_source(membership, source)
    await redeemed(session, invite, membership)
    await enter(session, community, membership)
    return Joined(membership, created=True)


async def placement_code(
    session: AsyncSession, tenant_id: str, community_id: str, routing_code: str | None
) -> str | None:
    """The id of the routing code an invitee brought along to be placed by (the invite
    stays the source: attribution, inviter), which must be the invite's community's."""
    if routing_code is None:
        return None
    code = await JoinRepository(session).routing_code(tenant_id, routing_code)
    if code is None:
        raise not_found("routing code")
    if code.community_id != community_id:
        raise unprocessable(
            "routing-code-mismatch",
            "Routing code of another community",
            "the routing code places members in another community than the invite's",
        )
    return code.id


def check_usable(invite: InviteCode) -> None:
    """A precise reason for a dead invite (the conditional increment is the real guard)."""
    if invite.revoked_at is not None:
        raise _gone("invite-revoked", "Invite revoked", "this invite was revoked")
    if invite.expires_at is not None and invite.expires_at <= utcnow():
        raise _gone("invite-expired", "Invite expired", f"it expired at {invite.expires_at}")
    if invite.max_uses is not None and invite.uses >= invite.max_uses:
        raise _gone("invite-used-up", "Invite used up", "every use of this invite was taken")


def _gone(slug: str, title: str, detail: str) -> Problem:
    return Problem(410, slug, title, detail)


async def take_use(session: AsyncSession, invite: InviteCode, member_id: str) -> Source:
    """Take one use of the invite: the source to record on the member's membership.

    The caller opens the membership with it, then publishes ``redeemed`` for it.
    """
    if invite.inviter_id == member_id:
        raise conflict("own-invite", "Own invite", "members cannot redeem their own invite")
    if not await InviteRepository(session).take_invite_use(invite, utcnow()):
        raise _gone("invite-used-up", "Invite used up", "every use of this invite was taken")
    return Source(
        kind="invite",
        code=invite.code,
        channel=invite.channel,
        inviter_id=invite.inviter_id,
        group_id=invite.target_group_id,
    )


async def redeemed(session: AsyncSession, invite: InviteCode, membership: Membership) -> None:
    await add_event(session, events.invite_redeemed(invite, membership, utcnow()))
