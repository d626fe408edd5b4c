"""Routing codes and joins: operators create codes (群活码); members join directly or
through a code, and leave."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from onboarding.access import Member, Operator, Reader
from onboarding.audit.service import Actor
from onboarding.joins.service import Joins, NewRoutingCode
from onboarding.membership.schemas import MembershipOut
from onboarding.schemas import (
    Capacity,
    Code,
    GroupKind,
    JoinIn,
    Strict,
)
from servicekit.pagination import Cursor, Limit, Page, keyset_after, page_of
from servicekit.problems import problem_responses

# The same prefix and tag as the communities' routes: one section of the API.


class RoutingCodeCreate(Strict):
    community_id: Annotated[str, StringConstraints(min_length=1, max_length=36)]
    code: Code
    group_ids: Annotated[list[str], Field(min_length=1, max_length=100)]
    channel: Annotated[str, StringConstraints(max_length=100)] | None = None
    overflow_prefix: Annotated[str, StringConstraints(min_length=1, max_length=150)]
    overflow_kind: GroupKind = "core"
    overflow_capacity: Capacity = 500


class RoutingCodeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    community_id: str
    code: str
    channel: str | None
    group_ids: list[str]
    overflow_prefix: str
    overflow_kind: str
    overflow_capacity: int
    overflow_count: int
    created_at: datetime


class DefaultRoutingCode(Strict):
    """The routing code that seats members whose way in names no group (a direct join, an
    invite without a target group, an application without a code); null: none."""

    routing_code_id: Annotated[str, StringConstraints(min_length=1, max_length=36)] | None


router = APIRouter(prefix="/v1/onboarding", tags=["onboarding: communities"])


async def joins_service(request: Request) -> Joins:
    return Joins(request.app.state.sessions)


JoinsDep = Annotated[Joins, Depends(joins_service)]


@router.post(
    "/routing-codes",
    status_code=201,
    response_model=RoutingCodeOut,
    responses=problem_responses({404: "No such community or group"}),
)
async def create_routing_code(
    body: RoutingCodeCreate, operator: Operator, service: JoinsDep
) -> RoutingCodeOut:
    """A 群活码 over some of the community's groups; overflow groups open when all are full."""
    code = await service.create_routing_code(
        operator.tenant_id, NewRoutingCode(**body.model_dump()), actor=Actor.of(operator)
    )
    return RoutingCodeOut.model_validate(code)


@router.put("/communities/{community_id}/default-routing-code", response_model=DefaultRoutingCode)
async def set_default_routing_code(
    community_id: str, body: DefaultRoutingCode, operator: Operator, service: JoinsDep
) -> DefaultRoutingCode:
    """Members whose way in names no group are placed by this code (with its overflow), or
    wait for a seat; null: they get no group. 422 ``routing-code-mismatch`` for a code of
    another community."""
    code_id = await service.set_default_code(
        operator.tenant_id, community_id, body.routing_code_id, actor=Actor.of(operator)
    )
    return DefaultRoutingCode(routing_code_id=code_id)


@router.get("/communities/{community_id}/default-routing-code", response_model=DefaultRoutingCode)
async def get_default_routing_code(
    community_id: str, operator: Operator, service: JoinsDep
) -> DefaultRoutingCode:
    code_id = await service.default_code(operator.tenant_id, community_id)
    return DefaultRoutingCode(routing_code_id=code_id)


@router.get("/routing-codes", response_model=Page[RoutingCodeOut])
async def list_routing_codes(
    reader: Reader,
    service: JoinsDep,
    community_id: Annotated[str | None, Query(max_length=36)] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[RoutingCodeOut]:
    """The tenant's routing codes, oldest first; `community_id` keeps one community's."""
    rows = await service.routing_codes(
        reader.tenant_id, community_id=community_id, after=keyset_after(cursor), limit=limit + 1
    )
    return page_of(rows, limit, RoutingCodeOut)


@router.get("/routing-codes/{code_id}", response_model=RoutingCodeOut)
async def get_routing_code(code_id: str, operator: Operator, service: JoinsDep) -> RoutingCodeOut:
    return RoutingCodeOut.model_validate(await service.routing_code(operator.tenant_id, code_id))


@router.post(
    "/communities/{community_id}/join",
    response_model=MembershipOut,
    responses={200: {"description": "Already a member"}, 201: {"description": "Joined"}},
)
async def join(
    community_id: str,
    member: Member,
    service: JoinsDep,
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
    service: JoinsDep,
    response: Response,
    body: JoinIn | None = None,
) -> MembershipOut:
    """Join through a routing code: placed in its least-full group (or a new overflow group)."""
    accepted = body.accepted_rules_version if body else None
    joined = await service.join_by_code(member.tenant_id, member.subject, code, accepted)
    response.status_code = 201 if joined.created else 200
    return MembershipOut.of(joined.membership)


@router.post("/communities/{community_id}/leave", response_model=MembershipOut)
async def leave(community_id: str, member: Member, service: JoinsDep) -> MembershipOut:
    membership = await service.leave(member.tenant_id, member.subject, community_id)
    return MembershipOut.of(membership)
