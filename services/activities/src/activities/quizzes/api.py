"""Quizzes: the tenant's question bank, quizzes, members' attempts scored on the server."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query

from activities.access import Anyone, Member, Now, Runner, Sessions
from activities.quizzes import domain, service
from activities.quizzes.repository import QuizRepository
from activities.quizzes.schemas import (
    AttemptOut,
    QuestionIn,
    QuestionOut,
    QuizIn,
    QuizOut,
    SubmissionIn,
)
from servicekit.db import read_only, transaction
from servicekit.problems import problem_responses
from servicekit.text import Line

router = APIRouter(prefix="/v1/activities", tags=["activities: quizzes"])

ObjectId = Annotated[Line, Path(max_length=36)]
NOT_FOUND = problem_responses({404: "No such quiz or attempt for this caller"})
INVALID = problem_responses({422: "Settings that contradict each other"})


@router.post(
    "/questions", status_code=201, summary="Add a question to the tenant's bank", responses=INVALID
)
async def add_question(
    body: QuestionIn, sessions: Sessions, principal: Runner, now: Now
) -> QuestionOut:
    try:
        question = body.value(str(uuid.uuid4()))
    except domain.InvalidQuiz as error:
        raise service.invalid(error) from None
    tags = list(dict.fromkeys(body.tags))
    async with transaction(sessions) as session:
        row = await service.add_question(session, principal, question, tags, now)
    return QuestionOut.of(row)


@router.get("/questions", summary="The tenant's question bank, newest first (answers included)")
async def list_questions(
    sessions: Sessions, principal: Runner, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[QuestionOut]:
    async with read_only(sessions) as session:
        rows = await QuizRepository(session).bank(principal.tenant_id, limit)
    return [QuestionOut.of(row) for row in rows]


@router.post(
    "/quizzes",
    status_code=201,
    summary="Set up a quiz in a community from the bank",
    responses={**INVALID, 404: {"description": "A community or question not of this tenant"}},
)
async def create_quiz(body: QuizIn, sessions: Sessions, principal: Runner, now: Now) -> QuizOut:
    try:
        limit = body.time_limit_s
        rules = domain.QuizRules(
            body.attempts_allowed,
            body.pass_percent,
            body.opens_at,
            body.closes_at,
            None if limit is None else timedelta(seconds=limit),
        )
    except domain.InvalidQuiz as error:
        raise service.invalid(error) from None
    draft = service.QuizDraft(
        body.community_id, body.title, body.question_ids, body.draw_count, limit, rules
    )
    async with transaction(sessions) as session:
        row = await service.create(session, principal, draft, now)
    return QuizOut.of(row)


@router.get("/quizzes", summary="Quizzes: all for operators, a member's own communities'")
async def list_quizzes(sessions: Sessions, principal: Anyone) -> list[QuizOut]:
    async with read_only(sessions) as session:
        rows = await service.listed(session, principal)
    return [QuizOut.of(row) for row in rows]


@router.get("/quizzes/{quiz_id}", summary="One quiz (no questions)", responses=NOT_FOUND)
async def get_quiz(quiz_id: ObjectId, sessions: Sessions, principal: Anyone) -> QuizOut:
    async with read_only(sessions) as session:
        row = await service.readable(session, principal, quiz_id)
    return QuizOut.of(row)


@router.post(
    "/quizzes/{quiz_id}/attempts",
    status_code=201,
    summary="Start an attempt: its questions without answers, and its deadline",
    responses={**NOT_FOUND, 409: {"description": "Not open, closed, or no attempt left"}},
)
async def start_attempt(
    quiz_id: ObjectId, sessions: Sessions, principal: Member, now: Now
) -> AttemptOut:
    async with transaction(sessions) as session:
        started = await service.start(session, principal, quiz_id, now)
    return AttemptOut.of(started.attempt, started.questions)


@router.get(
    "/quizzes/{quiz_id}/attempts/{attempt_id}",
    summary="An attempt: answers and explanations only once submitted",
    responses=NOT_FOUND,
)
async def get_attempt(
    quiz_id: ObjectId, attempt_id: ObjectId, sessions: Sessions, principal: Anyone
) -> AttemptOut:
    async with read_only(sessions) as session:
        _, attempt = await service.attempt_of(session, principal, quiz_id, attempt_id)
        questions = await service.questions_of(session, principal.tenant_id, attempt)
    return AttemptOut.of(attempt, questions)


@router.post(
    "/quizzes/{quiz_id}/attempts/{attempt_id}/submit",
    summary="Submit the answers: scored on the server, once, before the deadline",
    responses={**NOT_FOUND, 409: {"description": "Late, or submitted already"}},
)
async def submit_attempt(
    quiz_id: ObjectId,
    attempt_id: ObjectId,
    body: SubmissionIn,
    sessions: Sessions,
    principal: Member,
    now: Now,
) -> AttemptOut:
    async with transaction(sessions) as session:
        attempt, questions = await service.submit(
            session, principal, quiz_id, attempt_id, body.answers, now
        )
    return AttemptOut.of(attempt, questions)
