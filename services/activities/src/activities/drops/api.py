"""Point drops (红包): drop, claim, see who got what."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from activities.access import Anyone, Member, Now, Runner, Sessions, is_member
from activities.drops import domain, service
from servicekit.db import read_only, transaction
from servicekit.problems import Problem, problem_responses
from servicekit.text import Body, Line

router = APIRouter(prefix="/v1/activities", tags=["activities: drops"])

DropId = Annotated[Line, Path(max_length=36)]
Id = Annotated[Line, Field(min_length=1, max_length=200)]
NOT_FOUND = problem_responses({404: "No such drop for this caller"})


class DropIn(Body):
    community_id: Id
    group_id: Id | None = Field(default=None, description="Dropped into this group only")
    total_points: Annotated[int, Field(ge=1, le=domain.MAX_TOTAL)]
    slots: Annotated[int, Field(ge=1, le=domain.MAX_SLOTS)] = Field(
        description="N: the first N members to claim share the points"
    )
    split: domain.Split = Field(description="equal, or random (拼手气)")
    min_points: Annotated[int, Field(ge=1, le=domain.MAX_TOTAL)] = Field(
        default=1, description="Least points of a share"
    )
    expires_in_minutes: Annotated[int, Field(ge=1, le=domain.MAX_MINUTES)] = Field(
        default=24 * 60, description="After that, what is left goes back to the sender"
    )


class DropOut(BaseModel):
    id: str
    community_id: str
    group_id: str | None
    sender_id: str
    total_points: int
    slots: int
    split: domain.Split
    min_points: int
    claimed: int = Field(description="Shares claimed")
    shares: list[int] | None = Field(
        description="Every share in claim order, decided at the drop (operators, and "
        "everyone once the drop is over)"
    )
    expires_at: datetime
    expired_at: datetime | None
    returned_points: int | None
    created_at: datetime

    @classmethod
    def of(cls, row: Any, *, show_shares: bool) -> DropOut:
        values = dict(row._mapping)
        over = row.expired_at is not None or row.claimed >= row.slots
        if not (show_shares or over):
            values["shares"] = None
        return cls.model_validate(values)


class ClaimOut(BaseModel):
    drop_id: str
    member_id: str
    slot: int = Field(description="Which share (0: the first claimer's)")
    points: int
    claimed_at: datetime


@router.post(
    "/drops",
    status_code=201,
    summary="Drop points (红包) into a community or one of its groups",
    responses={
        404: {"description": "A community not of this tenant"},
        422: {"description": "Invalid settings"},
    },
)
async def create_drop(body: DropIn, sessions: Sessions, principal: Runner, now: Now) -> DropOut:
    try:
        drop = domain.Drop(
            total=body.total_points,
            slots=body.slots,
            split=body.split,
            min_points=body.min_points,
            expires_at=domain.expiry(now, body.expires_in_minutes),
        )
    except domain.InvalidDrop as error:
        raise Problem(422, "invalid-drop", "Invalid drop", str(error)) from None
    async with transaction(sessions) as session:
        row = await service.create(
            session, principal, service.Draft(body.community_id, body.group_id, drop), now
        )
    return DropOut.of(row, show_shares=True)


@router.get("/drops", summary="Drops: all for operators, those a member may claim")
async def list_drops(sessions: Sessions, principal: Anyone) -> list[DropOut]:
    async with read_only(sessions) as session:
        rows = await service.listed(session, principal)
    return [DropOut.of(row, show_shares=not is_member(principal)) for row in rows]


@router.get("/drops/{drop_id}", summary="One drop", responses=NOT_FOUND)
async def get_drop(drop_id: DropId, sessions: Sessions, principal: Anyone) -> DropOut:
    async with read_only(sessions) as session:
        row = await service.readable(session, principal, drop_id)
    return DropOut.of(row, show_shares=not is_member(principal))


@router.post(
    "/drops/{drop_id}/claims",
    status_code=201,
    summary="Claim a share (once; while shares are left and the drop has not expired)",
    responses={**NOT_FOUND, 409: {"description": "Expired, no share left, or claimed already"}},
)
async def claim(drop_id: DropId, sessions: Sessions, principal: Member, now: Now) -> ClaimOut:
    async with transaction(sessions) as session:
        found = await service.claim(session, principal, drop_id, now)
    return ClaimOut.model_validate(found)


@router.get(
    "/drops/{drop_id}/claims",
    summary="Who claimed how much, in claim order",
    responses=NOT_FOUND,
)
async def claims(drop_id: DropId, sessions: Sessions, principal: Anyone) -> list[ClaimOut]:
    async with read_only(sessions) as session:
        rows = await service.claims(session, principal, drop_id)
    return [ClaimOut.model_validate(dict(row._mapping)) for row in rows]
