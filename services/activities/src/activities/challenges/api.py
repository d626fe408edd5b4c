"""Check-in challenges (打卡): set up, check in, make up, leaderboard, calendar."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query

from activities.access import Anyone, Member, Now, Runner, Sessions, is_member
from activities.challenges import domain, service
from activities.challenges.schemas import (
    Board,
    CalendarOut,
    ChallengeIn,
    ChallengeOut,
    CheckinOut,
    EntryIn,
    LeaderboardOut,
    MakeUpIn,
)
from servicekit.db import read_only, transaction
from servicekit.problems import Problem, problem_responses
from servicekit.text import Line

router = APIRouter(prefix="/v1/activities", tags=["activities: challenges"])

ChallengeId = Annotated[Line, Path(max_length=36)]
NOT_FOUND = problem_responses({404: "No such challenge for this caller"})
REFUSED = problem_responses(
    {
        409: "Not open now, outside the window, already checked in, no card left",
        422: "The check-in lacks what the challenge requires",
    }
)


@router.post(
    "/challenges",
    status_code=201,
    summary="Set up a check-in challenge in a community (or one of its groups)",
    responses={
        404: {"description": "A community not of this tenant"},
        422: {"description": "Settings that contradict each other"},
    },
)
async def create_challenge(
    body: ChallengeIn, sessions: Sessions, principal: Runner, now: Now
) -> ChallengeOut:
    try:
        rules = body.rules()
    except domain.InvalidRules as error:
        raise Problem(422, "invalid-challenge", "Invalid challenge", str(error)) from None
    draft = service.Draft(body.community_id, body.group_id, body.title, body.rules_text, rules)
    async with transaction(sessions) as session:
        row = await service.create(session, principal, draft, now)
    return ChallengeOut.of(row)


@router.get("/challenges", summary="Challenges: all for operators, a member's own communities'")
async def list_challenges(sessions: Sessions, principal: Anyone) -> list[ChallengeOut]:
    async with read_only(sessions) as session:
        rows = await service.listed(session, principal)
    return [ChallengeOut.of(row) for row in rows]


@router.get("/challenges/{challenge_id}", summary="One challenge", responses=NOT_FOUND)
async def get_challenge(
    challenge_id: ChallengeId, sessions: Sessions, principal: Anyone
) -> ChallengeOut:
    async with read_only(sessions) as session:
        row = await service.readable(session, principal, challenge_id)
    return ChallengeOut.of(row)


@router.post(
    "/challenges/{challenge_id}/checkins",
    status_code=201,
    summary="Check in for today (the community's local day, inside the daily window)",
    responses={**NOT_FOUND, **REFUSED},
)
async def check_in(
    challenge_id: ChallengeId, body: EntryIn, sessions: Sessions, principal: Member, now: Now
) -> CheckinOut:
    async with transaction(sessions) as session:
        outcome = await service.record(session, principal, challenge_id, body.value(), now)
    return CheckinOut.of(outcome)


@router.post(
    "/challenges/{challenge_id}/makeups",
    status_code=201,
    summary="Spend a make-up card (补卡) on a missed day of the last K days",
    responses={**NOT_FOUND, **REFUSED},
)
async def make_up(
    challenge_id: ChallengeId, body: MakeUpIn, sessions: Sessions, principal: Member, now: Now
) -> CheckinOut:
    async with transaction(sessions) as session:
        outcome = await service.record(
            session, principal, challenge_id, body.value(), now, makeup_day=body.day
        )
    return CheckinOut.of(outcome)


@router.get(
    "/challenges/{challenge_id}/leaderboard",
    summary="Ranked by live streak, by days checked, or by who checked in earliest on a day",
    responses=NOT_FOUND,
)
async def leaderboard(
    challenge_id: ChallengeId,
    sessions: Sessions,
    principal: Anyone,
    now: Now,
    by: Board = "streak",
    day: Annotated[
        date | None, Query(description="earliest board: the day (default today)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> LeaderboardOut:
    async with read_only(sessions) as session:
        challenge = await service.readable(session, principal, challenge_id)
        on, rows = await service.leaderboard(session, challenge, by, day, now, limit)
    return LeaderboardOut.of(by, on, rows)


@router.get(
    "/challenges/{challenge_id}/calendar",
    summary="A member's calendar: members their own, operators anyone's (member_id)",
    responses={**NOT_FOUND, 422: {"description": "An operator gave no member_id"}},
)
async def calendar(
    challenge_id: ChallengeId,
    sessions: Sessions,
    principal: Anyone,
    now: Now,
    member_id: Annotated[Line | None, Query(max_length=200)] = None,
) -> CalendarOut:
    if is_member(principal):
        member_id = principal.subject
    elif not member_id:
        raise Problem(422, "member-id-required", "member_id required", "give member_id")
    async with read_only(sessions) as session:
        challenge = await service.readable(session, principal, challenge_id)
        cal = await service.calendar(session, challenge, member_id, now)
    return CalendarOut.of(cal)
