"""Community roles and titles, and the welcome template: granted through ``authorize``, so a
community admin holding a member token manages them like a tenant operator."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, model_validator

from onboarding.access import Member
from onboarding.orm import CommunityRole
from onboarding.roles.domain import (
    DEFAULT_TEMPLATE,
    MAX_TITLE_LENGTH,
    PLACEHOLDERS,
    Role,
    check_grant,
    check_template,
)
from onboarding.roles.service import NewGrant, RoleQuery, Roles
from onboarding.schemas import ExternalId, Id, Reason, Strict
from servicekit.auth import CurrentPrincipal
from servicekit.pagination import Cursor, Limit, Page, encode_cursor, keyset_after
from servicekit.text import trimmed

router = APIRouter(prefix="/v1/onboarding", tags=["onboarding: roles"])
me = APIRouter(prefix="/v1/onboarding/me", tags=["onboarding: me"])

Title = Annotated[str, trimmed(1, MAX_TITLE_LENGTH)]


async def roles_service(request: Request) -> Roles:
    return Roles(request.app.state.sessions)


RolesDep = Annotated[Roles, Depends(roles_service)]


# ---------------------------------------------------------------- schemas


class RoleGrantIn(Strict):
    member_id: ExternalId
    role: Role
    group_id: Id | None = None  # regional_leader: the local group they lead
    title: Title | None = None  # title: its text, e.g. 首席读书官
    reason: Reason | None = None

    @model_validator(mode="after")
    def _consistent(self) -> RoleGrantIn:
        check_grant(self.role, group_id=self.group_id, title=self.title)  # ValueError → 422
        return self


class RoleRevokeIn(Strict):
    reason: Reason | None = None


class RoleGrantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    community_id: str
    member_id: str
    role: str
    group_id: str | None
    title: str | None
    reason: str | None
    granted_by: str
    granted_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None
    revoke_reason: str | None


class WelcomeTemplateIn(Strict):
    template: str | None  # null: back to the default greeting

    @model_validator(mode="after")
    def _known_placeholders(self) -> WelcomeTemplateIn:
        if self.template is not None:
            check_template(self.template)  # a TemplateError is a ValueError → 422
        return self


class WelcomeTemplateOut(BaseModel):
    template: str  # the greeting in use
    custom: bool  # False: the default greeting
    placeholders: list[str]


def _page(rows: Sequence[CommunityRole], limit: int) -> Page[RoleGrantOut]:
    items = [RoleGrantOut.model_validate(row) for row in rows[:limit]]
    last = rows[limit - 1] if len(rows) > limit else None
    cursor = encode_cursor([last.granted_at.isoformat(), last.id]) if last else None
    return Page[RoleGrantOut](items=items, next_cursor=cursor)


# ---------------------------------------------------------------- routes


@router.post(
    "/communities/{community_id}/roles",
    response_model=RoleGrantOut,
    status_code=201,
    responses={200: {"description": "The member already held this role: the existing grant"}},
)
async def grant_role(
    community_id: str,
    body: RoleGrantIn,
    principal: CurrentPrincipal,
    roles: RolesDep,
    response: Response,
) -> RoleGrantOut:
    """Grant a role or a title to a member holding a seat (needs manage_roles; owner and admin
    need a tenant owner or admin, or the community's owner)."""
    draft = NewGrant(body.member_id, body.role, body.group_id, body.title, body.reason)
    granted = await roles.grant(principal, community_id, draft)
    response.status_code = 201 if granted.created else 200
    return RoleGrantOut.model_validate(granted.grant)


@router.get("/communities/{community_id}/roles", response_model=Page[RoleGrantOut])
async def list_roles(
    community_id: str,
    principal: CurrentPrincipal,
    roles: RolesDep,
    role: Role | None = None,
    member_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    active: Annotated[bool, Query(description="false: revoked grants too (managers)")] = True,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[RoleGrantOut]:
    """Grants, oldest first. Members of the community see who holds which role now."""
    query = RoleQuery(role=role, member_id=member_id, active_only=active)
    rows = await roles.roles(
        principal, community_id, query, after=keyset_after(cursor), limit=limit + 1
    )
    return _page(rows, limit)


@router.post("/communities/{community_id}/roles/{grant_id}/revoke", response_model=RoleGrantOut)
async def revoke_role(
    community_id: str,
    grant_id: str,
    body: RoleRevokeIn,
    principal: CurrentPrincipal,
    roles: RolesDep,
) -> RoleGrantOut:
    grant = await roles.revoke(principal, community_id, grant_id, body.reason)
    return RoleGrantOut.model_validate(grant)


@router.put("/communities/{community_id}/welcome", response_model=WelcomeTemplateOut)
async def set_welcome(
    community_id: str, body: WelcomeTemplateIn, principal: CurrentPrincipal, roles: RolesDep
) -> WelcomeTemplateOut:
    """The greeting published with every newcomer (member.welcomed), with placeholders
    {member_name}, {community_name}, {mentor_name}, {group_name}."""
    community = await roles.set_welcome_template(principal, community_id, body.template)
    return _welcome_out(community.welcome_template)


@router.get("/communities/{community_id}/welcome", response_model=WelcomeTemplateOut)
async def get_welcome(
    community_id: str, principal: CurrentPrincipal, roles: RolesDep
) -> WelcomeTemplateOut:
    community = await roles.welcome_template(principal, community_id)
    return _welcome_out(community.welcome_template)


def _welcome_out(template: str | None) -> WelcomeTemplateOut:
    return WelcomeTemplateOut(
        template=template or DEFAULT_TEMPLATE,
        custom=template is not None,
        placeholders=sorted(PLACEHOLDERS),
    )


@me.get("/roles", response_model=Page[RoleGrantOut])
async def my_roles(
    member: Member, roles: RolesDep, cursor: Cursor = None, limit: Limit = 50
) -> Page[RoleGrantOut]:
    """The roles and titles the member holds now, across communities."""
    rows = await roles.member_roles(
        member.tenant_id, member.subject, after=keyset_after(cursor), limit=limit + 1
    )
    return _page(rows, limit)
