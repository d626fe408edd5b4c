"""Polls' use cases: functions taking the caller's session (one transaction per use case,
opened by the entry point; the close timer's runner opens its own)."""

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
from activities.polls import domain
from activities.polls.repository import PollRepository
from activities.refusal import Refused
from servicekit import timers
from servicekit.auth import Principal
from servicekit.outbox import add_events
from servicekit.problems import Problem, not_found

CLOSE_TIMER = "activities.poll.close"


def poll_of(row: Any) -> domain.Poll:
    return domain.Poll(
        options=tuple(row.options),
        max_choices=row.max_choices,
        closes_at=row.closes_at,
        changeable=row.changeable,
        anonymous=row.anonymous,
        results=domain.ResultsVisible(row.results),
        closed_at=row.closed_at,
        kind=domain.PollKind(row.kind),
    )


def refused(error: Refused) -> Problem:
    status = 422 if error.reason is domain.Refusal.CHOICES else 409
    return Problem(status, error.reason.value, "Vote refused", error.detail)


@dataclass(frozen=True)
class Draft:
    community_id: str
    question: str
    poll: domain.Poll


async def create(session: AsyncSession, principal: Principal, draft: Draft, now: datetime) -> Any:
    tenant_id = principal.tenant_id
    if await MembersRepository(session).community(tenant_id, draft.community_id) is None:
        raise Problem(404, "not-found", "Not Found", f"no such community: {draft.community_id}")
    if draft.poll.closes_at <= now:
        raise Problem(422, "invalid-poll", "Invalid poll", "closes_at must be in the future")
    poll = draft.poll
    poll_id = str(uuid.uuid4())
    repo = PollRepository(session)
    await repo.add(
        {
            "id": poll_id,
            "tenant_id": tenant_id,
            "community_id": draft.community_id,
            "question": draft.question,
            "options": list(poll.options),
            "max_choices": poll.max_choices,
            "anonymous": poll.anonymous,
            "changeable": poll.changeable,
            "results": poll.results.value,
            "kind": poll.kind.value,
            "closes_at": poll.closes_at,
            "closed_at": None,
            "created_by": principal.subject,
            "created_at": now,
        }
    )
    payload = {"tenant_id": tenant_id, "poll_id": poll_id}
    await timers.schedule(session, CLOSE_TIMER, poll_id, poll.closes_at, payload)
    return await repo.get(tenant_id, poll_id)


async def readable(
    session: AsyncSession, principal: Principal, poll_id: str, *, lock: str | None = None
) -> Any:
    row = await PollRepository(session).get(principal.tenant_id, poll_id, lock=lock)
    if row is None:
        raise not_found("poll")
    if is_member(principal):
        states = await MembersRepository(session).of_member(
            principal.tenant_id, principal.subject, row.community_id
        )
        if not may_take_part(states, row.community_id):
            raise not_found("poll")
    return row


async def listed(session: AsyncSession, principal: Principal) -> list[Any]:
    repo = PollRepository(session)
    if not is_member(principal):
        return await repo.of_tenant(principal.tenant_id, None)
    seats = await MembersRepository(session).seats(principal.tenant_id, principal.subject)
    return await repo.of_tenant(
        principal.tenant_id, sorted({s.community_id for s in seats if s.active})
    )


async def vote(
    session: AsyncSession,
    principal: Principal,
    poll_id: str,
    answer: domain.Answer,
    now: datetime,
) -> None:
    """One vote per member (the primary key); a changeable poll's vote is replaced."""
    row = await readable(session, principal, poll_id, lock="share")
    poll = poll_of(row)
    repo = PollRepository(session)
    before = await repo.vote_of(principal.tenant_id, row.id, principal.subject)
    try:
        choices = domain.choices_of(poll, answer)
        domain.check_vote(poll, choices, before is not None, now)
    except Refused as error:
        raise refused(error) from None
    vote_row = {
        "tenant_id": principal.tenant_id,
        "poll_id": row.id,
        "member_id": principal.subject,
        "choices": sorted(choices),
        "text": answer.text if poll.kind is domain.PollKind.TEXT else None,
        "voted_at": now,
    }
    if not await repo.add_vote(vote_row, replace=poll.changeable):
        raise refused(Refused(domain.Refusal.ALREADY, "you voted already"))


@dataclass(frozen=True)
class Results:
    counts: list[int]
    voters: int
    by_option: list[list[str]] | None  # named polls: who chose each option
    average: float | None = None  # rating polls
    answers: list[tuple[str | None, str]] | None = None  # text: (who, if named; the text)


async def results(session: AsyncSession, principal: Principal, row: Any, now: datetime) -> Results:
    poll = poll_of(row)
    repo = PollRepository(session)
    voted = is_member(principal) and (
        await repo.vote_of(principal.tenant_id, row.id, principal.subject) is not None
    )
    if not domain.results_visible(poll, operator=not is_member(principal), voted=voted, now=now):
        raise Problem(
            403,
            "results-hidden",
            "Results hidden",
            f"results are shown {poll.results.value.replace('_', ' ')}",
        )
    return await _results(repo, row, poll)


async def _results(repo: PollRepository, row: Any, poll: domain.Poll) -> Results:
    votes = await repo.votes(row.tenant_id, row.id)
    counts = domain.tally(len(poll.options), (v.choices for v in votes))
    by_option = None
    if not poll.anonymous:
        by_option = [
            [v.member_id for v in votes if i in v.choices] for i in range(len(poll.options))
        ]
    if poll.kind is domain.PollKind.TEXT:
        answers = [(None if poll.anonymous else v.member_id, str(v.text)) for v in votes]
        return Results(counts, len(votes), by_option, None, answers)
    average = domain.average(counts) if poll.kind is domain.PollKind.RATING else None
    return Results(counts, len(votes), by_option, average)


async def close(session: AsyncSession, tenant_id: str, poll_id: str, at: datetime) -> Any:
    """Close the poll once (an operator early, or its timer) and publish its results."""
    repo = PollRepository(session)
    row = await repo.get(tenant_id, poll_id, lock="update")
    if row is None or row.closed_at is not None:
        return row
    await repo.close(tenant_id, poll_id, at)
    row = await repo.get(tenant_id, poll_id)
    tallied = await _results(repo, row, poll_of(row))
    closed = events.poll_closed(row, tallied.counts, tallied.voters, at, tallied.average)
    await add_events(session, [closed])
    return row


async def close_now(
    session: AsyncSession, principal: Principal, poll_id: str, now: datetime
) -> Any:
    row = await readable(session, principal, poll_id)
    if row.closed_at is not None:
        raise Problem(409, "poll-closed", "Poll closed", "the poll is closed already")
    await timers.cancel(session, CLOSE_TIMER, row.id)
    return await close(session, principal.tenant_id, row.id, now)


async def close_due(session: AsyncSession, timer: timers.Timer) -> None:
    """The close timer, as of its due time (a late runner never closes "later")."""
    payload = timer.payload
    await close(session, str(payload["tenant_id"]), str(payload["poll_id"]), timer.due_at)
