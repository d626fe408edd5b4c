"""Communities and their groups: operators configure them; members browse them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from onboarding.access import Operator, is_member
from onboarding.applications.api import AdmissionsDep
from onboarding.audit.service import Actor
from onboarding.communities.schemas import (
    CommunityCreate,
    CommunityOut,
    CommunityUpdate,
    GroupCreate,
    GroupOut,
    GroupUpdate,
    LevelGate,
)
from onboarding.communities.service import Communities, NewCommunity
from onboarding.joins.seating import NewGroup
from servicekit.auth import CurrentPrincipal
from servicekit.pagination import Cursor, Limit, Page, keyset_after, next_cursor, page_of
from servicekit.problems import Problem

router = APIRouter(prefix="/v1/onboarding", tags=["onboarding: communities"])


async def communities_service(request: Request) -> Communities:
    # A thin object over the runtime's session factory: one per request costs nothing.
    return Communities(request.app.state.sessions)


CommunitiesDep = Annotated[Communities, Depends(communities_service)]


@router.post("/communities", status_code=201, response_model=CommunityOut)
async def create_community(
    body: CommunityCreate, operator: Operator, service: CommunitiesDep
) -> CommunityOut:
    """Create a community with its join policies (open or paid terms, optionally an
    application questionnaire) and first groups."""
    groups = [NewGroup(**g.model_dump()) for g in body.groups]
    questionnaire = body.application_form.domain() if body.application_form else None
    settings = body.model_dump(exclude={"groups", "application_form"})
    draft = NewCommunity(**settings, groups=groups, questionnaire=questionnaire)
    return CommunityOut.model_validate(
        await service.create_community(operator.tenant_id, draft, actor=Actor.of(operator))
    )


@router.get("/communities", response_model=Page[CommunityOut])
async def list_communities(
    principal: CurrentPrincipal, service: CommunitiesDep, cursor: Cursor = None, limit: Limit = 50
) -> Page[CommunityOut]:
    """Operators see every community of the tenant; members the public ones and their own."""
    visible_to = _member_or_operator(principal)
    rows = await service.communities(
        principal.tenant_id, visible_to=visible_to, after=keyset_after(cursor), limit=limit + 1
    )
    items = [CommunityOut.model_validate(row) for row in rows[:limit]]
    return Page[CommunityOut](items=items, next_cursor=next_cursor(rows, limit))


@router.get("/communities/{community_id}", response_model=CommunityOut)
async def get_community(
    community_id: str, principal: CurrentPrincipal, service: CommunitiesDep
) -> CommunityOut:
    visible_to = _member_or_operator(principal)
    if visible_to is None:
        community = await service.community(principal.tenant_id, community_id)
    else:
        community = await service.community_for_member(
            principal.tenant_id, community_id, visible_to
        )
    return CommunityOut.model_validate(community)


def _member_or_operator(principal: CurrentPrincipal) -> str | None:
    """The member's id for a member token, None for an operator; anyone else is refused."""
    if is_member(principal):
        return principal.subject
    if principal.token_type == "access" and principal.has_any_role("owner", "admin", "operator"):
        return None
    raise Problem(403, "forbidden", "Forbidden", "operators and members only")


@router.patch("/communities/{community_id}", response_model=CommunityOut)
async def update_community(
    community_id: str, body: CommunityUpdate, principal: CurrentPrincipal, service: CommunitiesDep
) -> CommunityOut:
    """Change settings: only the fields given. Paid terms apply to future payments; a slug
    another community has is a 409. Publishes community.updated with the changed names."""
    community = await service.update_community(principal, community_id, body.changes())
    return CommunityOut.model_validate(community)


@router.patch("/communities/{community_id}/groups/{group_id}", response_model=GroupOut)
async def update_group(
    community_id: str,
    group_id: str,
    body: GroupUpdate,
    principal: CurrentPrincipal,
    service: CommunitiesDep,
) -> GroupOut:
    """Rename, resize (never below the members seated: 409) or change the requirements;
    members already seated stay."""
    group = await service.update_group(principal, community_id, group_id, body.changes())
    return GroupOut.model_validate(group)


@router.put("/communities/{community_id}/level-gate", response_model=CommunityOut)
async def set_level_gate(
    community_id: str, body: LevelGate, operator: Operator, admissions: AdmissionsDep
) -> CommunityOut:
    """Joining needs this rewards level (as rewards last reported it); null lifts the gate."""
    community = await admissions.set_min_level(
        operator.tenant_id, community_id, body.min_level, actor=Actor.of(operator)
    )
    return CommunityOut.model_validate(community)


@router.post("/communities/{community_id}/groups", status_code=201, response_model=GroupOut)
async def add_group(
    community_id: str, body: GroupCreate, operator: Operator, service: CommunitiesDep
) -> GroupOut:
    group = await service.add_group(
        operator.tenant_id, community_id, NewGroup(**body.model_dump()), actor=Actor.of(operator)
    )
    return GroupOut.model_validate(group)


@router.get("/communities/{community_id}/groups", response_model=Page[GroupOut])
async def list_groups(
    community_id: str,
    operator: Operator,
    service: CommunitiesDep,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[GroupOut]:
    """The community's groups, oldest first (overflow groups after the ones they relieve)."""
    rows = await service.groups(
        operator.tenant_id, community_id, after=keyset_after(cursor), limit=limit + 1
    )
    return page_of(rows, limit, GroupOut)
