"""Quizzes' use cases: functions taking the caller's session (one transaction per use
case, opened by the entry point)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from activities import events
from activities.access import is_member
from activities.members.domain import may_take_part
from activities.members.repository import MembersRepository
from activities.quizzes import domain
from activities.quizzes.repository import QuizRepository
from activities.refusal import Refused
from servicekit.auth import Principal
from servicekit.outbox import add_events
from servicekit.problems import Problem, not_found


def invalid(error: domain.InvalidQuiz) -> Problem:
    return Problem(422, "invalid-quiz", "Invalid quiz", str(error))


def refused(error: Refused) -> Problem:
    return Problem(409, error.reason.value, "Quiz refused", error.detail)


def question_of(row: Any) -> domain.Question:
    return domain.Question(
        id=row.id,
        kind=domain.Kind(row.kind),
        prompt=row.prompt,
        options=tuple(row.options),
        answer=row.answer,
        explanation=row.explanation,
    )


def rules_of(row: Any) -> domain.QuizRules:
    limit = timedelta(seconds=row.time_limit_s) if row.time_limit_s else None
    return domain.QuizRules(
        row.attempts_allowed, row.pass_percent, row.opens_at, row.closes_at, limit
    )


async def add_question(
    session: AsyncSession,
    principal: Principal,
    question: domain.Question,
    tags: list[str],
    now: datetime,
) -> Any:
    await QuizRepository(session).add_question(
        {
            "id": question.id,
            "tenant_id": principal.tenant_id,
            "kind": question.kind.value,
            "prompt": question.prompt,
            "options": list(question.options),
            "answer": question.answer,
            "explanation": question.explanation,
            "tags": tags,
            "created_at": now,
        }
    )
    found = await QuizRepository(session).questions(principal.tenant_id, [question.id])
    return found[question.id]


@dataclass(frozen=True)
class QuizDraft:
    community_id: str
    title: str
    question_ids: list[str]
    draw_count: int | None
    time_limit_s: int | None
    rules: domain.QuizRules


async def create(
    session: AsyncSession, principal: Principal, draft: QuizDraft, now: datetime
) -> Any:
    tenant_id = principal.tenant_id
    if await MembersRepository(session).community(tenant_id, draft.community_id) is None:
        raise Problem(404, "not-found", "Not Found", f"no such community: {draft.community_id}")
    repo = QuizRepository(session)
    known = await repo.questions(tenant_id, draft.question_ids)
    unknown = sorted(set(draft.question_ids) - set(known))
    if unknown:
        raise Problem(404, "not-found", "Not Found", f"no such question: {', '.join(unknown)}")
    if draft.draw_count is not None and draft.draw_count > len(set(draft.question_ids)):
        raise invalid(domain.InvalidQuiz("draw_count exceeds the questions to draw from"))
    quiz_id = str(uuid.uuid4())
    rules = draft.rules
    await repo.add_quiz(
        {
            "id": quiz_id,
            "tenant_id": tenant_id,
            "community_id": draft.community_id,
            "title": draft.title,
            "question_ids": list(dict.fromkeys(draft.question_ids)),
            "draw_count": draft.draw_count,
            "time_limit_s": draft.time_limit_s,
            "attempts_allowed": rules.attempts_allowed,
            "pass_percent": rules.pass_percent,
            "opens_at": rules.opens_at,
            "closes_at": rules.closes_at,
            "created_by": principal.subject,
            "created_at": now,
        }
    )
    return await repo.quiz(tenant_id, quiz_id)


async def readable(session: AsyncSession, principal: Principal, quiz_id: str) -> Any:
    """The quiz, for operators of its tenant and members of its community; 404 otherwise."""
    quiz = await QuizRepository(session).quiz(principal.tenant_id, quiz_id)
    if quiz is None:
        raise not_found("quiz")
    if is_member(principal):
        states = await MembersRepository(session).of_member(
            principal.tenant_id, principal.subject, quiz.community_id
        )
        if not may_take_part(states, quiz.community_id):
            raise not_found("quiz")
    return quiz


async def listed(session: AsyncSession, principal: Principal) -> list[Any]:
    repo = QuizRepository(session)
    if not is_member(principal):
        return await repo.quizzes(principal.tenant_id, None)
    seats = await MembersRepository(session).seats(principal.tenant_id, principal.subject)
    return await repo.quizzes(
        principal.tenant_id, sorted({s.community_id for s in seats if s.active})
    )


@dataclass(frozen=True)
class Started:
    attempt: Any
    questions: list[domain.Question]


async def start(
    session: AsyncSession, principal: Principal, quiz_id: str, now: datetime
) -> Started:
    """A new attempt: its questions (drawn at random, reproducibly from its id) and its
    deadline. Concurrent starts take distinct numbers; one past the limit is refused."""
    quiz = await readable(session, principal, quiz_id)
    repo = QuizRepository(session)
    used = await repo.attempts_used(principal.tenant_id, quiz.id, principal.subject)
    try:
        deadline = domain.start(rules_of(quiz), used, now)
    except Refused as error:
        raise refused(error) from None
    attempt_id = str(uuid.uuid4())
    ids = list(quiz.question_ids)
    if quiz.draw_count is not None:
        ids = domain.draw(ids, quiz.draw_count, attempt_id)
    row = {
        "id": attempt_id,
        "tenant_id": principal.tenant_id,
        "quiz_id": quiz.id,
        "member_id": principal.subject,
        "number": used + 1,
        "question_ids": ids,
        "started_at": now,
        "deadline_at": deadline,
    }
    if not await repo.add_attempt(row):
        raise Problem(409, "attempt-conflict", "Quiz refused", "another attempt started now")
    found = await repo.questions(principal.tenant_id, ids)
    return Started(
        await repo.attempt(principal.tenant_id, quiz.id, attempt_id),
        [question_of(found[i]) for i in ids if i in found],
    )


async def attempt_of(
    session: AsyncSession, principal: Principal, quiz_id: str, attempt_id: str
) -> tuple[Any, Any]:
    quiz = await readable(session, principal, quiz_id)
    attempt = await QuizRepository(session).attempt(principal.tenant_id, quiz.id, attempt_id)
    if attempt is None or (is_member(principal) and attempt.member_id != principal.subject):
        raise not_found("attempt")
    return quiz, attempt


async def questions_of(
    session: AsyncSession, tenant_id: str, attempt: Any
) -> list[domain.Question]:
    found = await QuizRepository(session).questions(tenant_id, attempt.question_ids)
    return [question_of(found[i]) for i in attempt.question_ids if i in found]


async def submit(
    session: AsyncSession,
    principal: Principal,
    quiz_id: str,
    attempt_id: str,
    answers: dict[str, Any],
    now: datetime,
) -> tuple[Any, list[domain.Question]]:
    """Score the answers on the server and record them once: a late or repeated submission
    is refused (409); concurrent ones are scored once (conditional update)."""
    quiz, attempt = await attempt_of(session, principal, quiz_id, attempt_id)
    if not is_member(principal):
        raise not_found("attempt")
    try:
        domain.check_submission(attempt.deadline_at, attempt.submitted_at is not None, now)
    except Refused as error:
        raise refused(error) from None
    questions = await questions_of(session, principal.tenant_id, attempt)
    result = domain.score(questions, answers, quiz.pass_percent)
    values = {
        "answers": answers,
        "correct": result.correct,
        "score": result.percent,
        "passed": result.passed,
    }
    repo = QuizRepository(session)
    if not await repo.submit(principal.tenant_id, attempt.id, now, values):
        raise refused(Refused(domain.Refusal.SUBMITTED, "this attempt was submitted already"))
    event = events.quiz_completed(quiz, attempt.id, principal.subject, result, now)
    await add_events(session, [event])
    return await repo.attempt(principal.tenant_id, quiz.id, attempt.id), questions
