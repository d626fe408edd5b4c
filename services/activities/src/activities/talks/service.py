"""Talks' use cases: set up and move (with their reminders), ask, upvote, mark, the
queue, attendance."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from activities import events
from activities.access import is_member
from activities.members.domain import may_take_part
from activities.members.repository import MembersRepository
from activities.refusal import Refused
from activities.talks import domain
from activities.talks.repository import TalkRepository
from servicekit import timers
from servicekit.auth import Principal
from servicekit.outbox import add_event
from servicekit.problems import Problem, not_found

REMINDER_TIMER = "activities.talk.reminder"


def talk_of(row: Any) -> domain.Talk:
    return domain.Talk(row.starts_at, row.ends_at, tuple(row.guests))


def refused(error: Refused) -> Problem:
    return Problem(409, error.reason.value, "Refused", error.detail)


@dataclass(frozen=True)
class Draft:
    community_id: str
    title: str
    description: str
    talk: domain.Talk


async def create(session: AsyncSession, principal: Principal, draft: Draft, now: datetime) -> Any:
    tenant_id = principal.tenant_id
    if await MembersRepository(session).community(tenant_id, draft.community_id) is None:
        raise Problem(404, "not-found", "Not Found", f"no such community: {draft.community_id}")
    if draft.talk.ends_at <= now:
        raise Problem(422, "invalid-talk", "Invalid talk", "ends_at must be in the future")
    talk_id = str(uuid.uuid4())
    repo = TalkRepository(session)
    await repo.add(
        {
            "id": talk_id,
            "tenant_id": tenant_id,
            "community_id": draft.community_id,
            "title": draft.title,
            "description": draft.description,
            "guests": list(draft.talk.guests),
            "starts_at": draft.talk.starts_at,
            "ends_at": draft.talk.ends_at,
            "created_by": principal.subject,
            "created_at": now,
        }
    )
    row = await repo.get(tenant_id, talk_id)
    await _arm_reminders(session, row, now)
    await add_event(session, events.talk_scheduled(row, None, now))
    return row


async def reschedule(
    session: AsyncSession,
    principal: Principal,
    talk_id: str,
    starts_at: datetime,
    ends_at: datetime,
    now: datetime,
) -> Any:
    """Move a talk that has not ended: its reminders move with it (``talk.scheduled``
    again, with the previous start). ``domain.InvalidTalk`` for times out of order."""
    row = await readable(session, principal, talk_id)
    talk = domain.Talk(starts_at, ends_at, tuple(row.guests))
    if row.ends_at <= now:
        raise refused(Refused(domain.Refusal.ENDED, "the talk has ended"))
    if talk.ends_at <= now:
        raise Problem(422, "invalid-talk", "Invalid talk", "ends_at must be in the future")
    repo = TalkRepository(session)
    await repo.move(row.tenant_id, row.id, talk.starts_at, talk.ends_at)
    moved = await repo.get(row.tenant_id, row.id)
    await _arm_reminders(session, moved, now)
    await add_event(session, events.talk_scheduled(moved, row.starts_at, now))
    return moved


def _reminder_key(talk_id: str, lead: domain.Lead) -> str:
    return f"{talk_id}:{lead.value}"


async def _arm_reminders(session: AsyncSession, row: Any, now: datetime) -> None:
    for lead, due_at in domain.reminders(row.starts_at, now).items():
        key = _reminder_key(row.id, lead)
        if due_at is None:
            await timers.cancel(session, REMINDER_TIMER, key)
            continue
        payload = {
            "tenant_id": row.tenant_id,
            "talk_id": row.id,
            "lead": lead.value,
            "starts_at": row.starts_at.isoformat(),
        }
        await timers.schedule(session, REMINDER_TIMER, key, due_at, payload)


async def remind_due(session: AsyncSession, timer: timers.Timer) -> None:
    """``talk.reminder_due``, unless the talk moved since the timer was armed (the move
    re-armed it for the new start, so a stale firing sends nothing)."""
    payload = timer.payload
    row = await TalkRepository(session).get(str(payload["tenant_id"]), str(payload["talk_id"]))
    if row is None or row.starts_at.isoformat() != payload["starts_at"]:
        return
    await add_event(session, events.talk_reminder_due(row, str(payload["lead"]), timer.due_at))


async def attend(
    session: AsyncSession, principal: Principal, talk_id: str, minutes: int, now: datetime
) -> Any:
    """The front end's report for the calling member: the first sends ``talk.attended``."""
    row = await readable(session, principal, talk_id)
    try:
        domain.check_attendance(talk_of(row), minutes, now)
    except Refused as error:
        raise refused(error) from None
    except domain.InvalidTalk as error:
        raise Problem(422, "invalid-attendance", "Invalid attendance", str(error)) from None
    repo = TalkRepository(session)
    first = await repo.attend(row.tenant_id, row.id, principal.subject, minutes, now)
    if first:
        await add_event(session, events.talk_attended(row, principal.subject, minutes, now))
    [found] = await repo.attendance(row.tenant_id, row.id, principal.subject)
    return found


async def attendance(session: AsyncSession, principal: Principal, talk_id: str) -> list[Any]:
    """Operators: everyone's; a member: their own."""
    row = await readable(session, principal, talk_id)
    member = principal.subject if is_member(principal) else None
    return await TalkRepository(session).attendance(row.tenant_id, row.id, member)


async def readable(session: AsyncSession, principal: Principal, talk_id: str) -> Any:
    row = await TalkRepository(session).get(principal.tenant_id, talk_id)
    if row is None:
        raise not_found("talk")
    if is_member(principal):
        states = await MembersRepository(session).of_member(
            principal.tenant_id, principal.subject, row.community_id
        )
        if not may_take_part(states, row.community_id):
            raise not_found("talk")
    return row


async def listed(session: AsyncSession, principal: Principal) -> list[Any]:
    repo = TalkRepository(session)
    if not is_member(principal):
        return await repo.of_tenant(principal.tenant_id, None)
    seats = await MembersRepository(session).seats(principal.tenant_id, principal.subject)
    return await repo.of_tenant(
        principal.tenant_id, sorted({s.community_id for s in seats if s.active})
    )


async def ask(
    session: AsyncSession, principal: Principal, talk_id: str, text: str, now: datetime
) -> Any:
    row = await readable(session, principal, talk_id)
    try:
        domain.check_ask(talk_of(row), now)
    except Refused as error:
        raise refused(error) from None
    question_id = str(uuid.uuid4())
    repo = TalkRepository(session)
    await repo.ask(
        {
            "id": question_id,
            "tenant_id": principal.tenant_id,
            "talk_id": row.id,
            "member_id": principal.subject,
            "text": text,
            "status": domain.QuestionStatus.OPEN.value,
            "votes": 0,
            "asked_at": now,
            "marked_at": None,
        }
    )
    return await repo.question(principal.tenant_id, row.id, question_id)


async def _question(session: AsyncSession, principal: Principal, talk_id: str, qid: str) -> Any:
    row = await readable(session, principal, talk_id)
    question = await TalkRepository(session).question(principal.tenant_id, row.id, qid)
    if question is None:
        raise not_found("question")
    return row, question


async def upvote(
    session: AsyncSession, principal: Principal, talk_id: str, question_id: str, now: datetime
) -> None:
    row, question = await _question(session, principal, talk_id, question_id)
    try:
        domain.check_vote(talk_of(row), domain.QuestionStatus(question.status), now)
    except Refused as error:
        raise refused(error) from None
    voted = await TalkRepository(session).vote(
        principal.tenant_id, question.id, principal.subject, now
    )
    if not voted:
        raise refused(Refused(domain.Refusal.ALREADY, "you upvoted this question already"))


async def mark(
    session: AsyncSession,
    principal: Principal,
    talk_id: str,
    question_id: str,
    status: domain.QuestionStatus,
    now: datetime,
) -> Any:
    row, question = await _question(session, principal, talk_id, question_id)
    repo = TalkRepository(session)
    await repo.mark(principal.tenant_id, question.id, status.value, now)
    return await repo.question(principal.tenant_id, row.id, question.id)


async def queue(
    session: AsyncSession, principal: Principal, talk_id: str
) -> tuple[list[Any], set[str]]:
    """The queue in order, and (for a member) the questions they upvoted."""
    row = await readable(session, principal, talk_id)
    repo = TalkRepository(session)
    rows = {q.id: q for q in await repo.questions(principal.tenant_id, row.id)}
    ordered = domain.queue(
        (
            domain.Queued(q.id, q.votes, q.asked_at, domain.QuestionStatus(q.status))
            for q in rows.values()
        ),
        show_hidden=not is_member(principal),
    )
    mine = (
        await repo.voted(principal.tenant_id, row.id, principal.subject)
        if is_member(principal)
        else set()
    )
    return [rows[q.id] for q in ordered], mine
