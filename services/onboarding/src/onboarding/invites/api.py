"""Invite codes: operators issue and revoke them; members create their own links (when the
community's policy allows), see who joined through them, and redeem invites to join."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from onboarding.access import Member, Operator, OperatorOrMember, is_member, own_only
from onboarding.audit.service import Actor
from onboarding.invites.domain import MemberInvitePolicy
from onboarding.invites.service import Invites, NewInvite
from onboarding.membership.schemas import MembershipOut
from onboarding.schemas import (
    Code,
    ExternalId,
    Id,
    JoinIn,
    Level,
    Strict,
)
from servicekit.pagination import Cursor, Limit, Page, keyset_after, next_cursor
from servicekit.problems import Problem, problem_responses


class InviteCreate(Strict):
    community_id: Id
    code: Code | None = None  # generated (8 characters, no look-alikes) when not given
    channel: Annotated[str, StringConstraints(max_length=100)] | None = None
    inviter_id: ExternalId | None = None  # a member of the community
    target_group_id: Id | None = None
    max_uses: Annotated[int, Field(ge=1, le=1_000_000)] | None = 1  # null: unlimited
    expires_at: AwareDatetime | None = None


# What a member's own link may set: the rest comes from the community's policy.
MEMBER_FIELDS = frozenset({"community_id", "channel", "inviter_id"})


class RedeemIn(JoinIn):
    # A routing code (群活码) to be placed by: the invite stays the source (attribution).
    routing_code: Code | None = None


class MemberInvitePolicyIn(Strict):
    """What members' own links need and get (invites.domain.MemberInvitePolicy)."""

    enabled: bool = True
    max_active_links: Annotated[int, Field(ge=1, le=1000)] = 5
    min_level: Level | None = None  # rewards level needed to create one
    trial_members: bool = False  # members on a free trial may create links too
    max_uses: Annotated[int, Field(ge=1, le=1_000_000)] | None = None  # per link; null: unlimited
    valid_days: Annotated[int, Field(ge=1, le=3650)] | None = None  # null: until revoked


class MemberInvitePolicyOut(BaseModel):
    enabled: bool
    max_active_links: int
    min_level: int | None
    trial_members: bool
    max_uses: int | None
    valid_days: int | None


class InviteeOut(BaseModel):
    """A member who joined through the invite."""

    membership_id: str
    member_id: str
    display_name: str | None
    status: str
    group_id: str | None
    joined_at: datetime
    activated_at: datetime | None


class InviteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    community_id: str
    code: str
    channel: str | None
    inviter_id: str | None
    target_group_id: str | None
    max_uses: int | None
    uses: int
    expires_at: datetime | None
    revoked_at: datetime | None
    created_by: str
    created_at: datetime


router = APIRouter(prefix="/v1/onboarding", tags=["onboarding: invites"])


async def invites_service(request: Request) -> Invites:
    return Invites(request.app.state.sessions)


InvitesDep = Annotated[Invites, Depends(invites_service)]


@router.post(
    "/invites",
    status_code=201,
    response_model=InviteOut,
    responses=problem_responses(
        {
            404: "No such community or group",
            409: "The member already holds as many active links as the policy allows",
        }
    ),
)
async def create_invite(
    body: InviteCreate, principal: OperatorOrMember, invites: InvitesDep
) -> InviteOut:
    """An invite code: single use by default, or ``max_uses`` (null: unlimited), with an
    optional expiry, the inviting member (credited for every invitee) and a target group.

    A member creates their own link: ``community_id`` and ``channel`` only (they are the
    inviter; uses and expiry come from the community's invite policy). Refused with 403
    ``member-invites-disabled``, ``invite-not-eligible``, ``invite-level-too-low``, or 409
    ``invite-limit-reached``."""
    if is_member(principal):
        extra = sorted(body.model_fields_set - MEMBER_FIELDS)
        if extra or body.inviter_id not in (None, principal.subject):
            fields = ", ".join(extra or ["inviter_id"])
            detail = f"members set only community_id and channel on their own links ({fields})"
            raise Problem(403, "member-invite-fields", "Not for members", detail)
        invite = await invites.create_for_member(
            principal.tenant_id, principal.subject, body.community_id, body.channel
        )
        return InviteOut.model_validate(invite)
    invite = await invites.create(
        principal.tenant_id, NewInvite(**body.model_dump()), Actor.of(principal)
    )
    return InviteOut.model_validate(invite)


@router.get("/invites", response_model=Page[InviteOut])
async def list_invites(
    principal: OperatorOrMember,
    invites: InvitesDep,
    community_id: Annotated[str | None, Query(max_length=36)] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[InviteOut]:
    """Operators: every invite; a member: the links they are the inviter of."""
    rows = await invites.invites(
        principal.tenant_id,
        community_id=community_id,
        after=keyset_after(cursor),
        limit=limit + 1,
        inviter_id=own_only(principal),
    )
    items = [InviteOut.model_validate(row) for row in rows[:limit]]
    return Page[InviteOut](items=items, next_cursor=next_cursor(rows, limit))


@router.get("/invites/{invite_id}", response_model=InviteOut)
async def get_invite(invite_id: str, principal: OperatorOrMember, invites: InvitesDep) -> InviteOut:
    invite = await invites.invite(principal.tenant_id, invite_id, inviter_id=own_only(principal))
    return InviteOut.model_validate(invite)


@router.get("/invites/{invite_id}/invitees", response_model=Page[InviteeOut])
async def list_invitees(
    invite_id: str,
    principal: OperatorOrMember,
    invites: InvitesDep,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[InviteeOut]:
    """Who joined through the invite, oldest first (a member: only through their own)."""
    rows = await invites.invitees(
        principal.tenant_id,
        invite_id,
        inviter_id=own_only(principal),
        after=keyset_after(cursor),
        limit=limit + 1,
    )
    items = [
        InviteeOut(
            membership_id=membership.id,
            member_id=membership.member_id,
            display_name=display_name,
            status=membership.status,
            group_id=membership.group_id,
            joined_at=membership.created_at,
            activated_at=membership.activated_at,
        )
        for membership, display_name in rows[:limit]
    ]
    return Page[InviteeOut](items=items, next_cursor=next_cursor([m for m, _ in rows], limit))


@router.post("/invites/{invite_id}/revoke", response_model=InviteOut)
async def revoke_invite(
    invite_id: str, principal: OperatorOrMember, invites: InvitesDep
) -> InviteOut:
    """No more redemptions; members who joined with it stay (a member: their own links)."""
    invite = await invites.revoke(
        principal.tenant_id, invite_id, actor=Actor.of(principal), inviter_id=own_only(principal)
    )
    return InviteOut.model_validate(invite)


@router.get("/communities/{community_id}/invite-policy", response_model=MemberInvitePolicyOut)
async def get_invite_policy(
    community_id: str, principal: OperatorOrMember, invites: InvitesDep
) -> MemberInvitePolicyOut:
    """What members' own invite links need (status, level) and get (uses, validity)."""
    policy = await invites.policy(principal.tenant_id, community_id, member_id=own_only(principal))
    return MemberInvitePolicyOut(**policy.to_json())


@router.put("/communities/{community_id}/invite-policy", response_model=MemberInvitePolicyOut)
async def set_invite_policy(
    community_id: str, body: MemberInvitePolicyIn, operator: Operator, invites: InvitesDep
) -> MemberInvitePolicyOut:
    """Set the policy for members' own links; links created earlier keep their terms."""
    policy = await invites.set_policy(
        operator.tenant_id,
        community_id,
        MemberInvitePolicy(**body.model_dump()),
        actor=Actor.of(operator),
    )
    return MemberInvitePolicyOut(**policy.to_json())


@router.post(
    "/invites/{code}/redeem",
    response_model=MembershipOut,
    responses={
        200: {"description": "Already a member: no use taken"},
        201: {"description": "Joined"},
        410: {"description": "The invite expired, was revoked or is used up"},
    },
)
async def redeem_invite(
    code: str,
    member: Member,
    invites: InvitesDep,
    response: Response,
    body: RedeemIn | None = None,
) -> MembershipOut:
    """Join with an invite code (any visibility): active, a trial, or pending_payment.

    Placement: ``routing_code`` if given (the invite still is the source), else the invite's
    target group if it has room, else the routing code covering that group. Nowhere to sit:
    the member is in, with ``seat_waiting_since`` set, and gets the next seat that opens."""
    accepted = body.accepted_rules_version if body else None
    routing = body.routing_code if body else None
    joined = await invites.redeem(member.tenant_id, member.subject, code, accepted, routing)
    response.status_code = 201 if joined.created else 200
    return MembershipOut.of(joined.membership)
