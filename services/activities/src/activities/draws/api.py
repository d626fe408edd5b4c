"""Lucky draws: set up (the seed committed), enter, draw (the seed revealed), verify,
claim, redraw."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import AwareDatetime, BaseModel, Field

from activities.access import Anyone, Member, Now, Runner, Sessions
from activities.draws import domain, service
from servicekit.db import read_only, transaction
from servicekit.problems import Problem, problem_responses
from servicekit.text import Body, Line

router = APIRouter(prefix="/v1/activities", tags=["activities: draws"])

DrawId = Annotated[Line, Path(max_length=36)]
Id = Annotated[Line, Field(min_length=1, max_length=200)]
NOT_FOUND = problem_responses({404: "No such draw for this caller"})


class PrizeIn(Body):
    name: Annotated[Line, Field(min_length=1, max_length=200)]
    kind: domain.PrizeKind
    quantity: Annotated[int, Field(ge=1, le=domain.MAX_QUANTITY)]
    weight: Annotated[int, Field(ge=1, le=domain.MAX_WEIGHT)] = Field(
        default=1, description="Relative chance of this prize in each entrant's draw"
    )
    points: Annotated[int, Field(ge=1, le=domain.MAX_POINTS)] | None = Field(
        default=None, description="kind points only: what each winner is credited"
    )
    item_id: Id | None = Field(default=None, description="kind mall_item only: the item")


class DrawIn(Body):
    community_id: Id
    group_id: Id | None = Field(default=None, description="Only this group's members enter")
    challenge_id: Annotated[Line, Field(min_length=1, max_length=36)] | None = Field(
        default=None, description="Only members who checked in to this challenge enter"
    )
    min_level: Annotated[int, Field(ge=0, le=1000)] | None = Field(
        default=None, description="Only members of this level or above (rewards' levels)"
    )
    tiers: Annotated[list[Id], Field(min_length=1, max_length=20)] | None = Field(
        default=None, description="Only members whose membership is of one of these tiers"
    )
    title: Annotated[Line, Field(min_length=1, max_length=200)]
    prizes: Annotated[list[PrizeIn], Field(min_length=1, max_length=domain.MAX_PRIZES)]
    miss_weight: Annotated[int, Field(ge=0, le=domain.MAX_WEIGHT)] = Field(
        default=0, description="Weight of 'no prize' in each entrant's draw"
    )
    claim_days: Annotated[int, Field(ge=1, le=90)] = Field(
        default=7, description="Days a winner of a prize that is not points has to claim it"
    )
    opens_at: AwareDatetime | None = Field(default=None, description="Default: now")
    closes_at: AwareDatetime = Field(description="End of entries; the draw runs then")


class PrizeOut(BaseModel):
    name: str
    kind: domain.PrizeKind
    quantity: int
    weight: int
    points: int | None
    item_id: str | None


class DrawOut(BaseModel):
    id: str
    community_id: str
    group_id: str | None
    challenge_id: str | None
    min_level: int | None
    tiers: list[str] | None
    title: str
    prizes: list[PrizeOut]
    miss_weight: int
    claim_days: int
    opens_at: datetime
    closes_at: datetime
    seed_hash: str = Field(description="SHA-256 of the seed, committed before any entry")
    seed: str | None = Field(description="Revealed once drawn")
    drawn_at: datetime | None
    entrants: int
    redraws: int
    created_at: datetime

    @classmethod
    def of(cls, row: Any) -> DrawOut:
        values = dict(row._mapping)
        if values["drawn_at"] is None:
            values["seed"] = None
        return cls.model_validate(values)


class WinOut(BaseModel):
    member_id: str
    prize: int = Field(description="Index into the draw's prizes")
    prize_name: str
    round: int
    won_at: datetime
    claim_by: datetime
    claimed_at: datetime | None
    given_back_at: datetime | None


class ResultOut(BaseModel):
    draw: DrawOut
    entrants: list[str] | None = Field(description="Sorted by code point; once drawn")
    winners: list[WinOut]


def win_out(row: Any, win: Any) -> WinOut:
    return WinOut(
        member_id=win.member_id,
        prize=win.prize,
        prize_name=row.prizes[win.prize]["name"],
        round=win.round,
        won_at=win.won_at,
        claim_by=win.claim_by,
        claimed_at=win.claimed_at,
        given_back_at=win.given_back_at,
    )


@router.post(
    "/draws",
    status_code=201,
    summary="Set up a lucky draw (its seed's hash published now)",
    responses={
        404: {"description": "A community or challenge not of this tenant"},
        422: {"description": "Invalid settings"},
    },
)
async def create_draw(body: DrawIn, sessions: Sessions, principal: Runner, now: Now) -> DrawOut:
    try:
        draw = domain.Draw(
            prizes=tuple(
                domain.Prize(p.name, p.kind, p.quantity, p.weight, p.points, p.item_id)
                for p in body.prizes
            ),
            opens_at=body.opens_at or now,
            closes_at=body.closes_at,
            miss_weight=body.miss_weight,
            claim_days=body.claim_days,
        )
    except domain.InvalidDraw as error:
        raise Problem(422, "invalid-draw", "Invalid draw", str(error)) from None
    draft = service.Draft(
        body.community_id,
        body.group_id,
        body.challenge_id,
        body.title,
        draw,
        body.min_level,
        body.tiers,
    )
    async with transaction(sessions) as session:
        row = await service.create(session, principal, draft, now)
    return DrawOut.of(row)


@router.get("/draws", summary="Draws: all for operators, those a member may enter")
async def list_draws(sessions: Sessions, principal: Anyone) -> list[DrawOut]:
    async with read_only(sessions) as session:
        rows = await service.listed(session, principal)
    return [DrawOut.of(row) for row in rows]


@router.get("/draws/{draw_id}", summary="One draw", responses=NOT_FOUND)
async def get_draw(draw_id: DrawId, sessions: Sessions, principal: Anyone) -> DrawOut:
    async with read_only(sessions) as session:
        row = await service.readable(session, principal, draw_id)
    return DrawOut.of(row)


@router.post(
    "/draws/{draw_id}/entries",
    status_code=204,
    summary="Enter the draw (once)",
    responses={
        **NOT_FOUND,
        403: {"description": "Not eligible (its challenge, level or tiers)"},
        409: {"description": "Not open, closed, or entered already"},
    },
)
async def enter(draw_id: DrawId, sessions: Sessions, principal: Member, now: Now) -> None:
    async with transaction(sessions) as session:
        await service.enter(session, principal, draw_id, now)


@router.get(
    "/draws/{draw_id}/result",
    summary="The committed hash; once drawn the seed, the entrants and the winners",
    responses=NOT_FOUND,
)
async def result(draw_id: DrawId, sessions: Sessions, principal: Anyone) -> ResultOut:
    async with read_only(sessions) as session:
        found = await service.result(session, principal, draw_id)
    return ResultOut(
        draw=DrawOut.of(found.row),
        entrants=found.entrants,
        winners=[win_out(found.row, w) for w in found.wins],
    )


@router.post(
    "/draws/{draw_id}/draw",
    summary="Draw now (closing entries) instead of at closes_at",
    responses={**NOT_FOUND, 409: {"description": "Drawn already"}},
)
async def draw_now(draw_id: DrawId, sessions: Sessions, principal: Runner, now: Now) -> DrawOut:
    async with transaction(sessions) as session:
        row = await service.draw_now(session, principal, draw_id, now)
    return DrawOut.of(row)


@router.post(
    "/draws/{draw_id}/claim",
    summary="The winner claims a prize that is not points, before claim_by",
    responses={**NOT_FOUND, 409: {"description": "No prize, claimed already, or too late"}},
)
async def claim(draw_id: DrawId, sessions: Sessions, principal: Member, now: Now) -> WinOut:
    async with transaction(sessions) as session:
        row = await service.readable(session, principal, draw_id)
        win = await service.claim(session, principal, draw_id, now)
    return win_out(row, win)


@router.post(
    "/draws/{draw_id}/redraw",
    summary="Redraw the prizes whose winners did not claim them in time",
    responses={**NOT_FOUND, 409: {"description": "Not drawn yet, or no lapsed prize"}},
)
async def redraw(draw_id: DrawId, sessions: Sessions, principal: Runner, now: Now) -> ResultOut:
    async with transaction(sessions) as session:
        await service.redraw(session, principal, draw_id, now)
        found = await service.result(session, principal, draw_id)
    return ResultOut(
        draw=DrawOut.of(found.row),
        entrants=found.entrants,
        winners=[win_out(found.row, w) for w in found.wins],
    )
