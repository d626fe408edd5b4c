"""Meetups: set up, register, the waitlist's offers, review, venue check-in."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request
from pydantic import AwareDatetime, BaseModel, Field

from activities.access import READERS, Anyone, Member, Now, Runner, Sessions, operator_with
from activities.meetups import domain, service
from servicekit.auth import Principal
from servicekit.db import read_only, transaction
from servicekit.problems import Problem, problem_responses
from servicekit.text import Body, Line, Text

router = APIRouter(prefix="/v1/activities", tags=["activities: meetups"])

MeetupId = Annotated[Line, Path(max_length=36)]
RegistrationId = Annotated[Line, Path(max_length=36)]
NOT_FOUND = problem_responses({404: "No such meetup (or registration) for this caller"})
Short = Annotated[Line, Field(min_length=1, max_length=200)]


def code_key(request: Request) -> bytes:
    return service.code_key(request.app.state.settings.secret_key.get_secret_value())


CodeKey = Annotated[bytes, Depends(code_key)]
Reader = Annotated[Principal, operator_with(*READERS)]


class QuestionIn(Body):
    prompt: Short
    required: bool = True
    options: Annotated[list[Short], Field(max_length=20)] = Field(
        default_factory=list, description="Choose one of these; none: a free-text answer"
    )


class MeetupIn(Body):
    community_id: Annotated[Line, Field(min_length=1, max_length=200)]
    title: Short
    description: Annotated[Text, Field(max_length=5000)] = ""
    city: Annotated[Line, Field(min_length=1, max_length=100)]
    venue: Annotated[Line, Field(min_length=1, max_length=500)]
    capacity: Annotated[int, Field(ge=1, le=domain.MAX_CAPACITY)]
    cost_points: Annotated[int, Field(ge=0, le=10_000_000)] = Field(
        default=0, description="0: free; else debited by rewards when a seat is confirmed"
    )
    selection: domain.Selection = domain.Selection.FIRST_COME
    questions: Annotated[list[QuestionIn], Field(max_length=domain.MAX_QUESTIONS)] = Field(
        default_factory=list
    )
    opens_at: AwareDatetime
    closes_at: AwareDatetime
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    confirm_hours: Annotated[int, Field(ge=1, le=domain.MAX_CONFIRM_HOURS)] = Field(
        default=24, description="A promoted member's time to confirm (never past the start)"
    )


class QuestionOut(BaseModel):
    prompt: str
    required: bool
    options: list[str]


class MeetupOut(BaseModel):
    id: str
    community_id: str
    title: str
    description: str
    city: str
    venue: str
    capacity: int
    cost_points: int
    selection: domain.Selection
    questions: list[QuestionOut]
    opens_at: datetime
    closes_at: datetime
    starts_at: datetime
    ends_at: datetime
    confirm_hours: int
    seats_taken: int
    seed_hash: str = Field(description="SHA-256 of the lottery's seed, published before the draw")
    seed: str | None = Field(description="The lottery's seed, revealed once drawn")
    drawn_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, row: Any) -> MeetupOut:
        values = dict(row._mapping)
        values["seats_taken"] = row.held
        values["seed"] = row.seed if row.drawn_at is not None else None
        return cls.model_validate(values)


class RegistrationIn(Body):
    answers: Annotated[dict[Annotated[str, Field(max_length=3)], Short], Field(max_length=20)] = (
        Field(default_factory=dict, description='Answers by question number ("0", "1", ...)')
    )


class RegistrationOut(BaseModel):
    id: str
    meetup_id: str
    member_id: str
    number: int
    status: domain.Status
    waitlist_position: int | None = Field(description="Place in the waitlist's order")
    confirm_by: datetime | None = Field(description="An offered seat: confirm before this")
    answers: dict[str, str]
    registered_at: datetime
    changed_at: datetime
    checkin_code: str | None = Field(
        description="The member's own confirmed seat: the code staff scan at the venue"
    )
    ticket: str | None = Field(description="Lottery, once drawn: SHA-256 of seed:id")

    @classmethod
    def of(
        cls, meetup: Any, row: Any, *, key: bytes | None = None, drawn: bool = False
    ) -> RegistrationOut:
        values = dict(row._mapping)
        values["waitlist_position"] = row.queue_pos
        code = None
        if key is not None and row.status in (domain.Status.CONFIRMED, domain.Status.ATTENDED):
            code = domain.checkin_code(key, meetup.tenant_id, meetup.id, row.number)
        values["checkin_code"] = code
        values["ticket"] = domain.ticket(meetup.seed, row.id) if drawn else None
        return cls.model_validate(values)


class ReviewIn(Body):
    decision: Literal["approve", "reject"]


class CodeIn(Body):
    code: Annotated[Line, Field(min_length=3, max_length=40)]


@router.post(
    "/meetups",
    status_code=201,
    summary="Set up an offline meetup (线下活动) in a community",
    responses=problem_responses({404: "A community not of this tenant", 422: "Invalid settings"}),
)
async def create_meetup(
    body: MeetupIn, sessions: Sessions, principal: Runner, now: Now
) -> MeetupOut:
    try:
        meetup = domain.Meetup(
            capacity=body.capacity,
            selection=body.selection,
            opens_at=body.opens_at,
            closes_at=body.closes_at,
            starts_at=body.starts_at,
            ends_at=body.ends_at,
            cost_points=body.cost_points,
            confirm_hours=body.confirm_hours,
            questions=tuple(
                domain.Question(q.prompt, q.required, tuple(q.options)) for q in body.questions
            ),
        )
    except domain.InvalidMeetup as error:
        raise Problem(422, "invalid-meetup", "Invalid meetup", str(error)) from None
    draft = service.Draft(
        body.community_id, body.title, body.description, body.city, body.venue, meetup
    )
    async with transaction(sessions) as session:
        row = await service.create(session, principal, draft, now)
    return MeetupOut.of(row)


@router.get("/meetups", summary="Meetups: all for operators, a member's own communities'")
async def list_meetups(sessions: Sessions, principal: Anyone) -> list[MeetupOut]:
    async with read_only(sessions) as session:
        rows = await service.listed(session, principal)
    return [MeetupOut.of(row) for row in rows]


@router.get("/meetups/{meetup_id}", summary="One meetup", responses=NOT_FOUND)
async def get_meetup(meetup_id: MeetupId, sessions: Sessions, principal: Anyone) -> MeetupOut:
    async with read_only(sessions) as session:
        row = await service.readable(session, principal, meetup_id)
    return MeetupOut.of(row)


@router.post(
    "/meetups/{meetup_id}/registrations",
    status_code=201,
    summary="Register: a seat (first come), the waitlist, or an application (lottery, review)",
    responses=problem_responses(
        {
            404: "No such meetup for this member",
            409: "Registration not open, closed, or registered already",
            422: "Answers the form does not accept",
        }
    ),
)
async def register(
    meetup_id: MeetupId,
    body: RegistrationIn,
    sessions: Sessions,
    principal: Member,
    now: Now,
    key: CodeKey,
) -> RegistrationOut:
    async with transaction(sessions) as session:
        meetup, registration = await service.register(
            session, principal, meetup_id, body.answers, now
        )
    return RegistrationOut.of(meetup, registration, key=key)


@router.get(
    "/meetups/{meetup_id}/registration",
    summary="The member's own registration (with the check-in code of a confirmed seat)",
    responses=NOT_FOUND,
)
async def my_registration(
    meetup_id: MeetupId, sessions: Sessions, principal: Member, key: CodeKey
) -> RegistrationOut:
    async with read_only(sessions) as session:
        meetup, registration = await service.mine(session, principal, meetup_id)
    return RegistrationOut.of(meetup, registration, key=key)


@router.post(
    "/meetups/{meetup_id}/registration/cancel",
    summary="Cancel; a seat given back goes to the next in the waitlist",
    responses=problem_responses({404: "Not registered", 409: "Started, or nothing to cancel"}),
)
async def cancel(
    meetup_id: MeetupId, sessions: Sessions, principal: Member, now: Now
) -> RegistrationOut:
    async with transaction(sessions) as session:
        meetup, registration = await service.cancel(session, principal, meetup_id, now)
    return RegistrationOut.of(meetup, registration)


@router.post(
    "/meetups/{meetup_id}/registration/confirm",
    summary="Accept a seat offered from the waitlist, before its deadline",
    responses=problem_responses({404: "Not registered", 409: "No offer, or it lapsed"}),
)
async def confirm(
    meetup_id: MeetupId, sessions: Sessions, principal: Member, now: Now, key: CodeKey
) -> RegistrationOut:
    async with transaction(sessions) as session:
        meetup, registration = await service.confirm(session, principal, meetup_id, now)
    return RegistrationOut.of(meetup, registration, key=key)


@router.get(
    "/meetups/{meetup_id}/registrations",
    summary="Every registration (operators): status, answers, waitlist, lottery tickets",
    responses=NOT_FOUND,
)
async def registrations(
    meetup_id: MeetupId, sessions: Sessions, principal: Reader
) -> list[RegistrationOut]:
    async with read_only(sessions) as session:
        meetup, rows = await service.roster(session, principal, meetup_id)
    drawn = meetup.drawn_at is not None
    return [RegistrationOut.of(meetup, row, drawn=drawn) for row in rows]


@router.post(
    "/meetups/{meetup_id}/registrations/{registration_id}/review",
    summary="Approve (a seat, while one is left) or reject an application",
    responses=problem_responses(
        {404: "No such meetup or registration", 409: "Not reviewable, or every seat is taken"}
    ),
)
async def review(
    meetup_id: MeetupId,
    registration_id: RegistrationId,
    body: ReviewIn,
    sessions: Sessions,
    principal: Runner,
    now: Now,
) -> RegistrationOut:
    async with transaction(sessions) as session:
        meetup, registration = await service.review(
            session, principal, meetup_id, registration_id, body.decision == "approve", now
        )
    return RegistrationOut.of(meetup, registration)


@router.post(
    "/meetups/{meetup_id}/checkins",
    summary="Venue check-in: staff scan an attendee's one-time code",
    responses=problem_responses(
        {
            404: "No such meetup",
            409: "Used already, no confirmed seat, or the meetup is over",
            422: "Not a code of this meetup",
        }
    ),
)
async def check_in(
    meetup_id: MeetupId,
    body: CodeIn,
    sessions: Sessions,
    principal: Runner,
    now: Now,
    key: CodeKey,
) -> RegistrationOut:
    async with transaction(sessions) as session:
        meetup, registration = await service.attend(
            session, principal, meetup_id, body.code, key, now
        )
    return RegistrationOut.of(meetup, registration)
