"""Seats by hand: operators move memberships between groups; members switch themselves
between the interest and local groups they may sit in."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from onboarding.access import Member, Operator
from onboarding.audit.service import Actor
from onboarding.membership.schemas import MembershipOut
from onboarding.schemas import Id, Strict
from onboarding.seats.service import Choice, Seats


class MoveIn(Strict):
    group_id: Id
    # Place them even if the group is full (it grows by one seat, group.updated) or asks
    # for a tier or level they lack.
    force: bool = False


class SwitchIn(Strict):
    group_id: Id


class GroupChoiceOut(BaseModel):
    id: str
    name: str
    kind: str
    city: str | None
    tags: list[str]
    member_count: int
    capacity: int
    current: bool  # the member sits there now

    @classmethod
    def of(cls, choice: Choice) -> GroupChoiceOut:
        group = choice.group
        return cls(
            id=group.id,
            name=group.name,
            kind=group.kind,
            city=group.city,
            tags=list(group.tags or ()),
            member_count=group.member_count,
            capacity=group.capacity,
            current=choice.current,
        )


class GroupChoicesOut(BaseModel):
    items: list[GroupChoiceOut]
    next_cursor: str | None = None  # one page: a community has few such groups


async def seats_service(request: Request) -> Seats:
    return Seats(request.app.state.sessions)


SeatsDep = Annotated[Seats, Depends(seats_service)]

router = APIRouter(prefix="/v1/onboarding", tags=["onboarding: memberships"])
me = APIRouter(prefix="/v1/onboarding/me", tags=["onboarding: me"])


@router.post("/memberships/{membership_id}/move", response_model=MembershipOut)
async def move_membership(
    membership_id: str, body: MoveIn, operator: Operator, seats: SeatsDep
) -> MembershipOut:
    """Move a member (or seat one waiting for a seat) into another group of their community.

    A full group is a 409 ``group-full``, a tier or level the group asks for and the member
    lacks a 409 ``requirements-not-met``, unless ``force`` (a full group then grows by one
    seat). Publishes membership.group_changed (reason ``moved``)."""
    membership = await seats.move(
        operator.tenant_id, membership_id, body.group_id, force=body.force, actor=Actor.of(operator)
    )
    return MembershipOut.of(membership)


@me.get("/communities/{community_id}/groups", response_model=GroupChoicesOut)
async def my_group_choices(community_id: str, member: Member, seats: SeatsDep) -> GroupChoicesOut:
    """The interest and local groups the member may switch into now (and the one they are in)."""
    choices = await seats.choices(member.tenant_id, member.subject, community_id)
    return GroupChoicesOut(items=[GroupChoiceOut.of(choice) for choice in choices])


@me.post("/communities/{community_id}/group", response_model=MembershipOut)
async def switch_group(
    community_id: str, body: SwitchIn, member: Member, seats: SeatsDep
) -> MembershipOut:
    """Switch into an interest or local group that has room and whose tier and level
    requirements the member meets (403 ``group-not-switchable`` / ``group-not-allowed``,
    409 ``group-full``). Publishes membership.group_changed (reason ``switched``)."""
    membership = await seats.switch(member.tenant_id, member.subject, community_id, body.group_id)
    return MembershipOut.of(membership)
