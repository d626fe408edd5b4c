"""Contests' use cases: functions taking the caller's session (one transaction per use
case, opened by the entry point; the end timer's runner opens its own)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from activities import events
from activities.access import is_member
from activities.contests import domain
from activities.contests.repository import ContestRepository
from activities.members.domain import DEFAULT_ZONE, may_take_part, zone
from activities.members.repository import MembersRepository
from activities.refusal import Refused
from servicekit import timers
from servicekit.auth import Principal
from servicekit.outbox import add_events
from servicekit.problems import Problem, not_found

END_TIMER = "activities.contest.end"


def refused(error: Refused) -> Problem:
    return Problem(409, error.reason.value, "Refused", error.detail)


def award_data(award: domain.Award) -> dict[str, Any]:
    return {"points": award.points, "badge": award.badge, "title": award.title}


def awards_of(row: Any) -> list[domain.Award]:
    return [domain.Award(a["points"], a.get("badge"), a.get("title")) for a in row.awards]


def status_of(row: Any, now: datetime) -> domain.Status:
    return domain.status(
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        finished=row.finished_at is not None,
        cancelled=row.cancelled_at is not None,
        now=now,
    )


@dataclass(frozen=True)
class Draft:
    community_id: str | None  # None: tenant-wide
    timezone: str | None  # a tenant-wide contest's days (a community's are its own)
    title: str
    metric: domain.Metric
    period: domain.Period
    awards: list[domain.Award]


async def create(session: AsyncSession, principal: Principal, draft: Draft, now: datetime) -> Any:
    tenant_id = principal.tenant_id
    if draft.community_id is not None:
        known = await MembersRepository(session).community(tenant_id, draft.community_id)
        if known is None:
            raise Problem(404, "not-found", "Not Found", f"no such community: {draft.community_id}")
        tz_name = known[0]
    else:
        tz_name = draft.timezone or DEFAULT_ZONE
    tz = zone(tz_name)
    if tz.key != tz_name:  # ``zone`` falls back to the default for a name it does not know
        raise Problem(422, "invalid-contest", "Invalid contest", f"unknown time zone: {tz_name}")
    ends_at = draft.period.ends_at(tz)
    if ends_at <= now:
        raise Problem(422, "invalid-contest", "Invalid contest", "the period is over already")
    contest_id = str(uuid.uuid4())
    repo = ContestRepository(session)
    await repo.add(
        {
            "id": contest_id,
            "tenant_id": tenant_id,
            "scope": (
                domain.Scope.TENANT if draft.community_id is None else domain.Scope.COMMUNITY
            ).value,
            "community_id": draft.community_id,
            "title": draft.title,
            "metric": draft.metric.value,
            "start_date": draft.period.start_date,
            "end_date": draft.period.end_date,
            "timezone": tz.key,
            "starts_at": draft.period.starts_at(tz),
            "ends_at": ends_at,
            "awards": [award_data(a) for a in draft.awards],
            "ranked": None,
            "finished_at": None,
            "cancelled_at": None,
            "created_by": principal.subject,
            "created_at": now,
        }
    )
    payload = {"tenant_id": tenant_id, "contest_id": contest_id}
    await timers.schedule(session, END_TIMER, contest_id, ends_at, payload)
    return await repo.get(tenant_id, contest_id)


async def readable(session: AsyncSession, principal: Principal, contest_id: str) -> Any:
    """The contest, for operators of its tenant and for members of its community (any
    active member for a tenant-wide one); to anyone else it does not exist (404)."""
    row = await ContestRepository(session).get(principal.tenant_id, contest_id)
    if row is None:
        raise not_found("contest")
    if is_member(principal) and not await _member_sees(session, principal, row):
        raise not_found("contest")
    return row


async def _member_sees(session: AsyncSession, principal: Principal, row: Any) -> bool:
    members = MembersRepository(session)
    if row.community_id is not None:
        states = await members.of_member(principal.tenant_id, principal.subject, row.community_id)
        return may_take_part(states, row.community_id)
    return any(s.active for s in await members.seats(principal.tenant_id, principal.subject))


async def listed(session: AsyncSession, principal: Principal) -> list[Any]:
    repo = ContestRepository(session)
    if not is_member(principal):
        return await repo.of_tenant(principal.tenant_id, None)
    seats = [
        s
        for s in await MembersRepository(session).seats(principal.tenant_id, principal.subject)
        if s.active
    ]
    if not seats:
        return []
    return await repo.of_tenant(principal.tenant_id, sorted({s.community_id for s in seats}))


async def cancel(
    session: AsyncSession, principal: Principal, contest_id: str, now: datetime
) -> Any:
    await readable(session, principal, contest_id)
    repo = ContestRepository(session)
    row = await repo.get(principal.tenant_id, contest_id, lock=True)
    try:
        domain.check_cancel(status_of(row, now))
    except Refused as error:
        raise refused(error) from None
    await repo.update(row.tenant_id, row.id, cancelled_at=now)
    await timers.cancel(session, END_TIMER, row.id)
    return await repo.get(row.tenant_id, row.id)


@dataclass(frozen=True)
class Standings:
    row: Any
    ranked: list[domain.Standing]
    awards: list[Any]  # the awarded places, once finished


async def standings(session: AsyncSession, principal: Principal, contest_id: str) -> Standings:
    """Live until the end (recomputed from the facts); the awarded places once finished."""
    row = await readable(session, principal, contest_id)
    repo = ContestRepository(session)
    ranked = domain.standings(await repo.facts(row))
    return Standings(row, ranked, await repo.awards(row.tenant_id, row.id))


async def settle(session: AsyncSession, tenant_id: str, contest_id: str, at: datetime) -> Any:
    """Award the top places once: the contest's row is locked and ``finished_at`` set in
    the same transaction as the awards and their events, so a second firing (a retried
    timer, another replica, an operator's finish) finds it finished and does nothing."""
    repo = ContestRepository(session)
    row = await repo.get(tenant_id, contest_id, lock=True)
    if row is None or row.finished_at is not None or row.cancelled_at is not None:
        return row
    ranked = domain.standings(await repo.facts(row))
    won = domain.winners(ranked, awards_of(row))
    rows = [
        {
            "tenant_id": tenant_id,
            "contest_id": contest_id,
            "place": standing.place,
            "award_id": str(uuid.uuid4()),
            "member_id": standing.member_id,
            "score": standing.score,
            "reached_at": standing.reached_at,
            **award_data(award),
            "awarded_at": at,
        }
        for standing, award in won
    ]
    await repo.add_awards(rows)
    await repo.update(tenant_id, contest_id, finished_at=at, ranked=len(ranked))
    await add_events(
        session,
        [
            events.contest_finished(row, len(ranked), rows, at),
            *(events.contest_awarded(row, award, at) for award in rows),
        ],
    )
    return await repo.get(tenant_id, contest_id)


async def finish(
    session: AsyncSession, principal: Principal, contest_id: str, now: datetime
) -> Any:
    """An operator settles an ended contest without waiting for its timer (the same
    settlement: a finished contest is returned as it is)."""
    row = await readable(session, principal, contest_id)
    try:
        domain.check_finish(status_of(row, now))
    except Refused as error:
        raise refused(error) from None
    # As of the end: the awards are the period's, whenever they are settled.
    return await settle(session, row.tenant_id, row.id, row.ends_at)


async def end_due(session: AsyncSession, timer: timers.Timer) -> None:
    """The end timer, as of its due time (the midnight after the last day)."""
    payload = timer.payload
    await settle(session, str(payload["tenant_id"]), str(payload["contest_id"]), timer.due_at)


@dataclass(frozen=True)
class MyRank:
    row: Any
    standing: domain.Standing | None
    ranked: int
    award: Any | None


async def my_rank(session: AsyncSession, principal: Principal, contest_id: str) -> MyRank:
    found = await standings(session, principal, contest_id)
    mine = domain.standing_of(found.ranked, principal.subject)
    award = next((a for a in found.awards if a.member_id == principal.subject), None)
    return MyRank(found.row, mine, len(found.ranked), award)
