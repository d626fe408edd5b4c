"""Contests (月度评选): set up, list, read, cancel, live standings, a member's rank, and
settling an ended contest whose timer has not run yet."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field, model_validator

from activities.access import READERS, Anyone, Member, Now, Principal, Runner, Sessions
from activities.contests import domain, service
from activities.members.domain import DEFAULT_ZONE
from servicekit.auth import operator_with
from servicekit.db import read_only, transaction
from servicekit.problems import Problem, problem_responses
from servicekit.text import Body, Line

router = APIRouter(prefix="/v1/activities", tags=["activities: contests"])

ContestId = Annotated[Line, Path(max_length=36)]
Id = Annotated[Line, Field(min_length=1, max_length=200)]
Name = Annotated[Line, Field(min_length=1, max_length=200)]
NOT_FOUND = problem_responses({404: "No such contest for this caller"})
STANDINGS_SHOWN = 100
Reader = Annotated[Principal, operator_with(*READERS)]  # operators reading campaigns


class AwardIn(Body):
    points: Annotated[int, Field(ge=0, le=domain.MAX_POINTS)] = Field(
        default=0, description="Credited by rewards (contest.awarded)"
    )
    badge: Name | None = Field(default=None, description="A badge's name, announced with it")
    title: Name | None = Field(default=None, description="A title such as 月度之星")

    @model_validator(mode="after")
    def _gives_something(self) -> AwardIn:
        if self.points == 0 and not self.badge and not self.title:
            raise ValueError("an award gives points, a badge or a title")
        return self


class ContestIn(Body):
    community_id: Id | None = Field(
        default=None, description="The community ranked; absent: every community (tenant)"
    )
    timezone: Annotated[Line, Field(min_length=1, max_length=64)] | None = Field(
        default=None,
        description=(
            f"A tenant-wide contest's days (default {DEFAULT_ZONE}); "
            "a community's contest uses the community's zone"
        ),
    )
    title: Name
    metric: domain.Metric
    start_date: date = Field(description="First local day of the period")
    end_date: date = Field(description="Last local day (inclusive); settled at the midnight after")
    awards: Annotated[list[AwardIn], Field(min_length=1, max_length=domain.MAX_AWARDS)] = Field(
        description="Place 1 receives the first, place 2 the second, ...: the top N awarded"
    )


class AwardOut(BaseModel):
    points: int
    badge: str | None
    title: str | None


class ContestOut(BaseModel):
    id: str
    scope: domain.Scope
    community_id: str | None
    title: str
    metric: domain.Metric
    start_date: date
    end_date: date
    timezone: str
    starts_at: datetime
    ends_at: datetime
    awards: list[AwardOut]
    status: domain.Status
    ranked: int | None = Field(description="Members ranked when it was settled")
    finished_at: datetime | None
    cancelled_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, row: Any, now: datetime) -> ContestOut:
        return cls.model_validate({**row._mapping, "status": service.status_of(row, now)})


class StandingOut(BaseModel):
    place: int
    member_id: str
    score: int
    reached_at: datetime = Field(description="When the score was reached (earlier wins a tie)")


class PlaceOut(BaseModel):
    place: int
    member_id: str
    score: int
    points: int
    badge: str | None
    title: str | None
    awarded_at: datetime


class StandingsOut(BaseModel):
    contest: ContestOut
    ranked: int = Field(description="Members scoring above 0")
    standings: list[StandingOut] = Field(description=f"The first {STANDINGS_SHOWN} places")
    awarded: list[PlaceOut] = Field(description="Once finished: the places awarded")


class MyRankOut(BaseModel):
    contest: ContestOut
    ranked: int
    place: int | None = Field(description="None: no score yet")
    score: int
    award: PlaceOut | None


def place_out(row: Any) -> PlaceOut:
    return PlaceOut.model_validate(dict(row._mapping))


def standing_out(standing: domain.Standing) -> StandingOut:
    return StandingOut(
        place=standing.place,
        member_id=standing.member_id,
        score=standing.score,
        reached_at=standing.reached_at,
    )


@router.post(
    "/contests",
    status_code=201,
    summary="Set up a contest: a period, a metric, the awards of the top places",
    responses={
        404: {"description": "A community not of this tenant"},
        422: {"description": "Invalid settings, or a period already over"},
    },
)
async def create_contest(
    body: ContestIn, sessions: Sessions, principal: Runner, now: Now
) -> ContestOut:
    try:
        period = domain.Period(body.start_date, body.end_date)
        awards = [domain.Award(a.points, a.badge, a.title) for a in body.awards]
        domain.check_awards(awards)
    except domain.InvalidContest as error:
        raise Problem(422, "invalid-contest", "Invalid contest", str(error)) from None
    draft = service.Draft(body.community_id, body.timezone, body.title, body.metric, period, awards)
    async with transaction(sessions) as session:
        row = await service.create(session, principal, draft, now)
    return ContestOut.of(row, now)


@router.get("/contests", summary="Contests: all for operators, a member's communities' ones")
async def list_contests(sessions: Sessions, principal: Anyone, now: Now) -> list[ContestOut]:
    async with read_only(sessions) as session:
        rows = await service.listed(session, principal)
    return [ContestOut.of(row, now) for row in rows]


@router.get("/contests/{contest_id}", summary="One contest", responses=NOT_FOUND)
async def get_contest(
    contest_id: ContestId, sessions: Sessions, principal: Anyone, now: Now
) -> ContestOut:
    async with read_only(sessions) as session:
        row = await service.readable(session, principal, contest_id)
    return ContestOut.of(row, now)


@router.post(
    "/contests/{contest_id}/cancel",
    summary="Cancel a contest before it is settled (nothing is awarded)",
    responses={**NOT_FOUND, 409: {"description": "Finished or cancelled already"}},
)
async def cancel_contest(
    contest_id: ContestId, sessions: Sessions, principal: Runner, now: Now
) -> ContestOut:
    async with transaction(sessions) as session:
        row = await service.cancel(session, principal, contest_id, now)
    return ContestOut.of(row, now)


@router.post(
    "/contests/{contest_id}/finish",
    summary="Settle an ended contest now (what its timer does; once: a finished one is shown)",
    responses={**NOT_FOUND, 409: {"description": "Its period is not over, or it is cancelled"}},
)
async def finish_contest(
    contest_id: ContestId, sessions: Sessions, principal: Runner, now: Now
) -> ContestOut:
    async with transaction(sessions) as session:
        row = await service.finish(session, principal, contest_id, now)
    return ContestOut.of(row, now)


@router.get(
    "/contests/{contest_id}/standings",
    summary="Live standings (the awarded places once finished)",
    responses=NOT_FOUND,
)
async def contest_standings(
    contest_id: ContestId, sessions: Sessions, principal: Reader, now: Now
) -> StandingsOut:
    async with read_only(sessions) as session:
        found = await service.standings(session, principal, contest_id)
    return StandingsOut(
        contest=ContestOut.of(found.row, now),
        ranked=len(found.ranked),
        standings=[standing_out(s) for s in found.ranked[:STANDINGS_SHOWN]],
        awarded=[place_out(a) for a in found.awards],
    )


@router.get(
    "/contests/{contest_id}/me",
    summary="The calling member's place, score and award",
    responses=NOT_FOUND,
)
async def my_rank(
    contest_id: ContestId, sessions: Sessions, principal: Member, now: Now
) -> MyRankOut:
    async with read_only(sessions) as session:
        found = await service.my_rank(session, principal, contest_id)
    return MyRankOut(
        contest=ContestOut.of(found.row, now),
        ranked=found.ranked,
        place=found.standing.place if found.standing else None,
        score=found.standing.score if found.standing else 0,
        award=place_out(found.award) if found.award else None,
    )
