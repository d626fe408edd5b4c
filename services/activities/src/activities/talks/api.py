"""Live talks and AMAs: set up, the question queue, upvotes, the host's marks."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import AwareDatetime, BaseModel, Field

from activities.access import Anyone, Member, Now, Runner, Sessions
from activities.talks import domain, service
from servicekit.db import read_only, transaction
from servicekit.problems import Problem, problem_responses
from servicekit.text import Body, Line, Text

router = APIRouter(prefix="/v1/activities", tags=["activities: talks"])

TalkId = Annotated[Line, Path(max_length=36)]
QuestionId = Annotated[Line, Path(max_length=36)]
NOT_FOUND = problem_responses({404: "No such talk (or question) for this caller"})


class TalkIn(Body):
    community_id: Annotated[Line, Field(min_length=1, max_length=200)]
    title: Annotated[Line, Field(min_length=1, max_length=200)]
    description: Annotated[Text, Field(max_length=5000)] = ""
    guests: Annotated[
        list[Annotated[Line, Field(min_length=1, max_length=200)]],
        Field(max_length=domain.MAX_GUESTS),
    ] = Field(default_factory=list, description="Guest speakers (嘉宾): member ids")
    starts_at: AwareDatetime
    ends_at: AwareDatetime


class TalkOut(BaseModel):
    id: str
    community_id: str
    title: str
    description: str
    guests: list[str]
    starts_at: datetime
    ends_at: datetime
    created_at: datetime

    @classmethod
    def of(cls, row: Any) -> TalkOut:
        return cls.model_validate(dict(row._mapping))


class QuestionIn(Body):
    text: Annotated[Text, Field(min_length=1, max_length=1000)]


class MarkIn(Body):
    status: domain.QuestionStatus


class QuestionOut(BaseModel):
    id: str
    talk_id: str
    member_id: str
    text: str
    status: domain.QuestionStatus
    votes: int
    asked_at: datetime
    marked_at: datetime | None
    upvoted: bool = Field(default=False, description="The calling member upvoted it")

    @classmethod
    def of(cls, row: Any, upvoted: bool = False) -> QuestionOut:
        return cls.model_validate({**dict(row._mapping), "upvoted": upvoted})


@router.post(
    "/talks",
    status_code=201,
    summary="Set up a live talk or AMA with guests in a community",
    responses=problem_responses({404: "A community not of this tenant", 422: "Invalid settings"}),
)
async def create_talk(body: TalkIn, sessions: Sessions, principal: Runner, now: Now) -> TalkOut:
    try:
        talk = domain.Talk(body.starts_at, body.ends_at, tuple(body.guests))
    except domain.InvalidTalk as error:
        raise Problem(422, "invalid-talk", "Invalid talk", str(error)) from None
    draft = service.Draft(body.community_id, body.title, body.description, talk)
    async with transaction(sessions) as session:
        row = await service.create(session, principal, draft, now)
    return TalkOut.of(row)


@router.get("/talks", summary="Talks: all for operators, a member's own communities'")
async def list_talks(sessions: Sessions, principal: Anyone) -> list[TalkOut]:
    async with read_only(sessions) as session:
        rows = await service.listed(session, principal)
    return [TalkOut.of(row) for row in rows]


@router.get("/talks/{talk_id}", summary="One talk", responses=NOT_FOUND)
async def get_talk(talk_id: TalkId, sessions: Sessions, principal: Anyone) -> TalkOut:
    async with read_only(sessions) as session:
        row = await service.readable(session, principal, talk_id)
    return TalkOut.of(row)


@router.post(
    "/talks/{talk_id}/questions",
    status_code=201,
    summary="Ask a question (before or during the talk)",
    responses=problem_responses({404: "No such talk for this member", 409: "The talk ended"}),
)
async def ask(
    talk_id: TalkId, body: QuestionIn, sessions: Sessions, principal: Member, now: Now
) -> QuestionOut:
    async with transaction(sessions) as session:
        row = await service.ask(session, principal, talk_id, body.text, now)
    return QuestionOut.of(row)


@router.get(
    "/talks/{talk_id}/questions",
    summary="The queue: open by votes then time, then answered; hidden for operators only",
    responses=NOT_FOUND,
)
async def questions(talk_id: TalkId, sessions: Sessions, principal: Anyone) -> list[QuestionOut]:
    async with read_only(sessions) as session:
        rows, mine = await service.queue(session, principal, talk_id)
    return [QuestionOut.of(row, row.id in mine) for row in rows]


@router.put(
    "/talks/{talk_id}/questions/{question_id}/vote",
    status_code=204,
    summary="Upvote a question (once)",
    responses=problem_responses(
        {404: "No such talk or question", 409: "Voted already, not open, or the talk ended"}
    ),
)
async def upvote(
    talk_id: TalkId, question_id: QuestionId, sessions: Sessions, principal: Member, now: Now
) -> None:
    async with transaction(sessions) as session:
        await service.upvote(session, principal, talk_id, question_id, now)


@router.post(
    "/talks/{talk_id}/questions/{question_id}/status",
    summary="The host marks a question answered, hidden, or open again",
    responses=NOT_FOUND,
)
async def mark(
    talk_id: TalkId,
    question_id: QuestionId,
    body: MarkIn,
    sessions: Sessions,
    principal: Runner,
    now: Now,
) -> QuestionOut:
    async with transaction(sessions) as session:
        row = await service.mark(session, principal, talk_id, question_id, body.status, now)
    return QuestionOut.of(row)


class MoveIn(Body):
    starts_at: AwareDatetime
    ends_at: AwareDatetime


@router.post(
    "/talks/{talk_id}/schedule",
    summary="Move a talk that has not ended; its reminders move with it",
    responses=problem_responses({404: "No such talk", 409: "The talk ended", 422: "Invalid times"}),
)
async def move_talk(
    talk_id: TalkId, body: MoveIn, sessions: Sessions, principal: Runner, now: Now
) -> TalkOut:
    try:
        async with transaction(sessions) as session:
            row = await service.reschedule(
                session, principal, talk_id, body.starts_at, body.ends_at, now
            )
    except domain.InvalidTalk as error:
        raise Problem(422, "invalid-talk", "Invalid talk", str(error)) from None
    return TalkOut.of(row)


class AttendanceIn(Body):
    minutes: Annotated[
        int, Field(ge=0, le=7 * 24 * 60, description="How long the member has stayed so far")
    ]


class AttendanceOut(BaseModel):
    talk_id: str
    member_id: str
    minutes: int
    joined_at: datetime
    reported_at: datetime

    @classmethod
    def of(cls, row: Any) -> AttendanceOut:
        return cls.model_validate(dict(row._mapping))


@router.put(
    "/talks/{talk_id}/attendance",
    summary="The front end reports that the calling member joined and how long they stayed",
    responses=problem_responses(
        {
            404: "No such talk for this member",
            409: "Not started yet, or reports closed (a day after the end)",
            422: "More minutes than the talk lasts",
        }
    ),
)
async def report_attendance(
    talk_id: TalkId, body: AttendanceIn, sessions: Sessions, principal: Member, now: Now
) -> AttendanceOut:
    """Repeat it as the member stays: the minutes are max-merged; the first report sends
    ``talk.attended`` (once per member and talk)."""
    async with transaction(sessions) as session:
        row = await service.attend(session, principal, talk_id, body.minutes, now)
    return AttendanceOut.of(row)


@router.get(
    "/talks/{talk_id}/attendance",
    summary="Attendance: everyone's for operators, the calling member's own",
    responses=NOT_FOUND,
)
async def list_attendance(
    talk_id: TalkId, sessions: Sessions, principal: Anyone
) -> list[AttendanceOut]:
    async with read_only(sessions) as session:
        rows = await service.attendance(session, principal, talk_id)
    return [AttendanceOut.of(row) for row in rows]
