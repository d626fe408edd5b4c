"""Polls: set up, vote, results, close."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import AwareDatetime, BaseModel, Field

from activities.access import Anyone, Member, Now, Runner, Sessions
from activities.polls import domain, service
from servicekit.db import read_only, transaction
from servicekit.problems import Problem, problem_responses
from servicekit.text import Body, Line, Text

router = APIRouter(prefix="/v1/activities", tags=["activities: polls"])

PollId = Annotated[Line, Path(max_length=36)]
NOT_FOUND = problem_responses({404: "No such poll for this caller"})
Option = Annotated[Line, Field(min_length=1, max_length=200)]


class PollIn(Body):
    community_id: Annotated[Line, Field(min_length=1, max_length=200)]
    question: Annotated[Text, Field(min_length=1, max_length=1000)]
    kind: domain.PollKind = Field(
        default=domain.PollKind.CHOICE,
        description="choice (options), rating (1..scale) or text (free answers)",
    )
    options: Annotated[list[Option], Field(max_length=domain.MAX_OPTIONS)] = Field(
        default_factory=list, description="choice polls: 2 or more, each different"
    )
    scale: Annotated[int, Field(ge=2, le=domain.MAX_SCALE)] | None = Field(
        default=None, description="rating polls: the highest rating (default 5)"
    )
    max_choices: Annotated[int, Field(ge=1, le=domain.MAX_OPTIONS)] = Field(
        default=1, description="1: single choice"
    )
    anonymous: bool = False
    changeable: bool = Field(default=False, description="A member may change their vote")
    results: domain.ResultsVisible = domain.ResultsVisible.ALWAYS
    closes_at: AwareDatetime


class PollOut(BaseModel):
    id: str
    community_id: str
    question: str
    options: list[str]
    max_choices: int
    anonymous: bool
    changeable: bool
    results: domain.ResultsVisible
    kind: domain.PollKind
    closes_at: datetime
    closed_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, row: Any) -> PollOut:
        return cls.model_validate(dict(row._mapping))


class VoteIn(Body):
    choices: Annotated[
        list[Annotated[int, Field(ge=0, le=domain.MAX_OPTIONS)]],
        Field(max_length=domain.MAX_OPTIONS),
    ] = Field(default_factory=list, description="choice polls: the options' indices")
    rating: Annotated[int, Field(ge=1, le=domain.MAX_SCALE)] | None = Field(
        default=None, description="rating polls: 1..the poll's scale"
    )
    text: Annotated[Text, Field(min_length=1, max_length=domain.MAX_TEXT)] | None = Field(
        default=None, description="free-text questions: the answer"
    )


class OptionResult(BaseModel):
    option: str
    votes: int
    voters: list[str] | None = Field(description="Named polls only")


class TextAnswer(BaseModel):
    member_id: str | None = Field(description="Named polls only")
    text: str


class ResultsOut(BaseModel):
    poll_id: str
    voters: int
    closed: bool
    options: list[OptionResult]
    average: float | None = Field(default=None, description="Rating polls: the mean rating")
    answers: list[TextAnswer] | None = Field(default=None, description="Free-text questions")


@router.post(
    "/polls",
    status_code=201,
    summary="Set up a poll in a community",
    responses={
        404: {"description": "A community not of this tenant"},
        422: {"description": "Invalid settings"},
    },
)
async def create_poll(body: PollIn, sessions: Sessions, principal: Runner, now: Now) -> PollOut:
    options = tuple(body.options)
    if body.kind is domain.PollKind.RATING and not options:
        options = domain.scale_options(body.scale or 5)
    try:
        if body.scale is not None and body.kind is not domain.PollKind.RATING:
            raise domain.InvalidPoll("only a rating poll has a scale")
        poll = domain.Poll(
            options,
            body.max_choices,
            body.closes_at,
            body.changeable,
            body.anonymous,
            body.results,
            kind=body.kind,
        )
    except domain.InvalidPoll as error:
        raise Problem(422, "invalid-poll", "Invalid poll", str(error)) from None
    async with transaction(sessions) as session:
        row = await service.create(
            session, principal, service.Draft(body.community_id, body.question, poll), now
        )
    return PollOut.of(row)


@router.get("/polls", summary="Polls: all for operators, a member's own communities'")
async def list_polls(sessions: Sessions, principal: Anyone) -> list[PollOut]:
    async with read_only(sessions) as session:
        rows = await service.listed(session, principal)
    return [PollOut.of(row) for row in rows]


@router.get("/polls/{poll_id}", summary="One poll", responses=NOT_FOUND)
async def get_poll(poll_id: PollId, sessions: Sessions, principal: Anyone) -> PollOut:
    async with read_only(sessions) as session:
        row = await service.readable(session, principal, poll_id)
    return PollOut.of(row)


@router.put(
    "/polls/{poll_id}/vote",
    status_code=204,
    summary="Vote (once; again only where the poll lets votes change)",
    responses={
        **NOT_FOUND,
        409: {"description": "Closed, or voted already"},
        422: {"description": "Choices the poll does not allow"},
    },
)
async def vote(
    poll_id: PollId, body: VoteIn, sessions: Sessions, principal: Member, now: Now
) -> None:
    async with transaction(sessions) as session:
        answer = domain.Answer(tuple(body.choices), body.rating, body.text)
        await service.vote(session, principal, poll_id, answer, now)


@router.get(
    "/polls/{poll_id}/results",
    summary="Counts (and, for named polls, who chose what), when the poll shows them",
    responses={**NOT_FOUND, 403: {"description": "Results not shown yet"}},
)
async def results(poll_id: PollId, sessions: Sessions, principal: Anyone, now: Now) -> ResultsOut:
    async with read_only(sessions) as session:
        row = await service.readable(session, principal, poll_id)
        found = await service.results(session, principal, row, now)
    return ResultsOut(
        poll_id=row.id,
        voters=found.voters,
        closed=service.poll_of(row).is_closed(now),
        options=[
            OptionResult(
                option=option,
                votes=found.counts[i],
                voters=None if found.by_option is None else found.by_option[i],
            )
            for i, option in enumerate(row.options)
        ],
        average=found.average,
        answers=None
        if found.answers is None
        else [TextAnswer(member_id=who, text=text) for who, text in found.answers],
    )


@router.post(
    "/polls/{poll_id}/close",
    summary="Close the poll now and publish its results",
    responses={**NOT_FOUND, 409: {"description": "Closed already"}},
)
async def close(poll_id: PollId, sessions: Sessions, principal: Runner, now: Now) -> PollOut:
    async with transaction(sessions) as session:
        row = await service.close_now(session, principal, poll_id, now)
    return PollOut.of(row)
