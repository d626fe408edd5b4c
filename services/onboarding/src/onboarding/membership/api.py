"""Memberships: operators list them; members see their own and their directory entry."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from onboarding.access import Member, Reader
from onboarding.membership.schemas import MembershipOut, ProfileOut
from onboarding.membership.service import Memberships
from onboarding.membership.states import Status
from servicekit.pagination import Cursor, Limit, Page, keyset_after, next_cursor

router = APIRouter(prefix="/v1/onboarding", tags=["onboarding: memberships"])


async def memberships_service(request: Request) -> Memberships:
    return Memberships(request.app.state.sessions)


MembershipsDep = Annotated[Memberships, Depends(memberships_service)]


@router.get("/memberships", response_model=Page[MembershipOut])
async def list_memberships(
    operator: Reader,
    service: MembershipsDep,
    community_id: Annotated[str | None, Query(max_length=36)] = None,
    member_id: Annotated[str | None, Query(max_length=200)] = None,
    status: Status | None = None,
    waiting: Annotated[
        bool | None, Query(description="true: only members waiting for a seat (no group had room)")
    ] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[MembershipOut]:
    """Operators and read keys list memberships; ``waiting=true`` is the queue of members
    seated in the community but waiting for a group with room (``seat_waiting_since``)."""
    rows = await service.memberships(
        operator.tenant_id,
        community_id=community_id,
        member_id=member_id,
        status=status,
        waiting=waiting,
        after=keyset_after(cursor),
        limit=limit + 1,
    )
    items = [MembershipOut.of(row) for row in rows[:limit]]
    return Page[MembershipOut](items=items, next_cursor=next_cursor(rows, limit))


@router.get("/memberships/{membership_id}", response_model=MembershipOut)
async def get_membership(
    membership_id: str, operator: Reader, service: MembershipsDep
) -> MembershipOut:
    return MembershipOut.of(await service.membership(operator.tenant_id, membership_id))


me = APIRouter(prefix="/v1/onboarding/me", tags=["onboarding: me"])


@me.get("/profile", response_model=ProfileOut)
async def my_profile(member: Member, service: MembershipsDep) -> ProfileOut:
    """The calling member's directory entry (empty until the gateway first identifies them)."""
    found = await service.member(member.tenant_id, member.subject)
    if found is None:
        return ProfileOut(member_id=member.subject, display_name=None, profile={}, tags=[])
    return ProfileOut(
        member_id=found.external_id,
        display_name=found.display_name,
        profile=found.profile,
        tags=found.tags,
    )


@me.get("/memberships", response_model=Page[MembershipOut])
async def my_memberships(
    member: Member, service: MembershipsDep, cursor: Cursor = None, limit: Limit = 50
) -> Page[MembershipOut]:
    rows = await service.memberships(
        member.tenant_id, member_id=member.subject, after=keyset_after(cursor), limit=limit + 1
    )
    items = [MembershipOut.of(row) for row in rows[:limit]]
    return Page[MembershipOut](items=items, next_cursor=next_cursor(rows, limit))
