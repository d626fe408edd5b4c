"""Communities, their groups and routing codes: operators configure; members browse and join."""

from __future__ import annotations

from fastapi import APIRouter, Response

from onboarding.api.deps import AdmissionsDep, Member, OnboardingDep, Operator, is_member
from onboarding.api.schemas import (
    CommunityCreate,
    CommunityOut,
    CommunityUpdate,
    GroupCreate,
    GroupOut,
    GroupUpdate,
    JoinIn,
    LevelGate,
    MembershipOut,
    RoutingCodeCreate,
    RoutingCodeOut,
)
from onboarding.audit import Actor
from onboarding.seating import NewGroup
from onboarding.service import NewCommunity, NewRoutingCode
from servicekit.auth import CurrentPrincipal
from servicekit.pagination import Cursor, Limit, Page, keyset_after, next_cursor
from servicekit.problems import Problem

router = APIRouter(prefix="/v1/onboarding", tags=["onboarding: communities"])


@router.post("/communities", status_code=201, response_model=CommunityOut)
async def create_community(
    body: CommunityCreate, operator: Operator, service: OnboardingDep
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
    principal: CurrentPrincipal, service: OnboardingDep, cursor: Cursor = None, limit: Limit = 50
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
    community_id: str, principal: CurrentPrincipal, service: OnboardingDep
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
    community_id: str, body: CommunityUpdate, principal: CurrentPrincipal, service: OnboardingDep
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
    service: OnboardingDep,
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
    community_id: str, body: GroupCreate, operator: Operator, service: OnboardingDep
) -> GroupOut:
    group = await service.add_group(
        operator.tenant_id, community_id, NewGroup(**body.model_dump()), actor=Actor.of(operator)
    )
    return GroupOut.model_validate(group)


@router.get("/communities/{community_id}/groups", response_model=list[GroupOut])
async def list_groups(
    community_id: str, operator: Operator, service: OnboardingDep
) -> list[GroupOut]:
    groups = await service.groups(operator.tenant_id, community_id)
    return [GroupOut.model_validate(group) for group in groups]


@router.post("/routing-codes", status_code=201, response_model=RoutingCodeOut)
async def create_routing_code(
    body: RoutingCodeCreate, operator: Operator, service: OnboardingDep
) -> RoutingCodeOut:
    """A 群活码 over some of the community's groups; overflow groups open when all are full."""
    code = await service.create_routing_code(
        operator.tenant_id, NewRoutingCode(**body.model_dump()), actor=Actor.of(operator)
    )
    return RoutingCodeOut.model_validate(code)


@router.get("/routing-codes/{code_id}", response_model=RoutingCodeOut)
async def get_routing_code(
    code_id: str, operator: Operator, service: OnboardingDep
) -> RoutingCodeOut:
    return RoutingCodeOut.model_validate(await service.routing_code(operator.tenant_id, code_id))


@router.post(
    "/communities/{community_id}/join",
    response_model=MembershipOut,
    responses={200: {"description": "Already a member"}, 201: {"description": "Joined"}},
)
async def join(
    community_id: str,
    member: Member,
    service: OnboardingDep,
    response: Response,
    body: JoinIn | None = None,
) -> MembershipOut:
    """Join a public community: open → active; paid → a free trial or pending_payment.

    A community with rules (群规) needs ``accepted_rules_version`` = its current version."""
    accepted = body.accepted_rules_version if body else None
    joined = await service.join(member.tenant_id, member.subject, community_id, accepted)
    response.status_code = 201 if joined.created else 200
    return MembershipOut.of(joined.membership)


@router.post(
    "/routing-codes/{code}/join",
    response_model=MembershipOut,
    responses={200: {"description": "Already a member"}, 201: {"description": "Joined"}},
)
async def join_by_code(
    code: str,
    member: Member,
    service: OnboardingDep,
    response: Response,
    body: JoinIn | None = None,
) -> MembershipOut:
    """Join through a routing code: placed in its least-full group (or a new overflow group)."""
    accepted = body.accepted_rules_version if body else None
    joined = await service.join_by_code(member.tenant_id, member.subject, code, accepted)
    response.status_code = 201 if joined.created else 200
    return MembershipOut.of(joined.membership)


@router.post("/communities/{community_id}/leave", response_model=MembershipOut)
async def leave(community_id: str, member: Member, service: OnboardingDep) -> MembershipOut:
    membership = await service.leave(member.tenant_id, member.subject, community_id)
    return MembershipOut.of(membership)
