"""Invite codes: operators issue and revoke them; members redeem them to join."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from onboarding.access import Member, Operator
from onboarding.audit.service import Actor
from onboarding.invites.service import Invites, NewInvite
from onboarding.membership.schemas import MembershipOut
from onboarding.schemas import (
    Code,
    ExternalId,
    Id,
    JoinIn,
    Strict,
)
from servicekit.pagination import Cursor, Limit, Page, keyset_after, next_cursor
from servicekit.problems import problem_responses


class InviteCreate(Strict):
    community_id: Id
    code: Code | None = None  # generated (8 characters, no look-alikes) when not given
    channel: Annotated[str, StringConstraints(max_length=100)] | None = None
    inviter_id: ExternalId | None = None  # a member of the community
    target_group_id: Id | None = None
    max_uses: Annotated[int, Field(ge=1, le=1_000_000)] | None = 1  # null: unlimited
    expires_at: AwareDatetime | None = None


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
    responses=problem_responses({404: "No such community or group"}),
)
async def create_invite(body: InviteCreate, operator: Operator, invites: InvitesDep) -> InviteOut:
    """An invite code: single use by default, or ``max_uses`` (null: unlimited), with an
    optional expiry, the inviting member (credited for every invitee) and a target group."""
    invite = await invites.create(
        operator.tenant_id, NewInvite(**body.model_dump()), Actor.of(operator)
    )
    return InviteOut.model_validate(invite)


@router.get("/invites", response_model=Page[InviteOut])
async def list_invites(
    operator: Operator,
    invites: InvitesDep,
    community_id: Annotated[str | None, Query(max_length=36)] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[InviteOut]:
    rows = await invites.invites(
        operator.tenant_id, community_id=community_id, after=keyset_after(cursor), limit=limit + 1
    )
    items = [InviteOut.model_validate(row) for row in rows[:limit]]
    return Page[InviteOut](items=items, next_cursor=next_cursor(rows, limit))


@router.get("/invites/{invite_id}", response_model=InviteOut)
async def get_invite(invite_id: str, operator: Operator, invites: InvitesDep) -> InviteOut:
    return InviteOut.model_validate(await invites.invite(operator.tenant_id, invite_id))


@router.post("/invites/{invite_id}/revoke", response_model=InviteOut)
async def revoke_invite(invite_id: str, operator: Operator, invites: InvitesDep) -> InviteOut:
    """No more redemptions; members who joined with it stay."""
    return InviteOut.model_validate(
        await invites.revoke(operator.tenant_id, invite_id, actor=Actor.of(operator))
    )


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
    body: JoinIn | None = None,
) -> MembershipOut:
    """Join with an invite code (any visibility): active, a trial, or pending_payment."""
    accepted = body.accepted_rules_version if body else None
    joined = await invites.redeem(member.tenant_id, member.subject, code, accepted)
    response.status_code = 201 if joined.created else 200
    return MembershipOut.of(joined.membership)
