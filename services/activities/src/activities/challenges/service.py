"""Check-in challenges' use cases: functions taking the caller's session (one
transaction per use case, opened by the entry point)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from activities import events
from activities.access import is_member
from activities.challenges import domain
from activities.challenges.repository import ChallengeRepository
from activities.members.domain import may_take_part, zone
from activities.members.repository import MembersRepository
from activities.refusal import Refused
from servicekit.auth import Principal
from servicekit.outbox import add_events
from servicekit.problems import Problem, not_found


@dataclass(frozen=True)
class Draft:
    community_id: str
    group_id: str | None
    title: str
    rules_text: str
    rules: domain.Rules


@dataclass(frozen=True)
class Outcome:
    """What one check-in did."""

    checkin_id: str
    recorded: domain.Recorded
    checked_at: datetime


def rules_of(row: Any) -> domain.Rules:
    window = None
    if row.window_start is not None and row.window_end is not None:
        window = domain.Window(row.window_start, row.window_end)
    return domain.Rules(
        start_date=row.start_date,
        end_date=row.end_date,
        required_days=row.required_days,
        window=window,
        requires=frozenset(domain.Part(part) for part in row.requires),
        min_text_length=row.min_text_length,
        makeup_cards=row.makeup_cards,
        makeup_days=row.makeup_days,
        grace_days=row.grace_days,
        milestones=tuple(row.milestones),
    )


def refused(error: Refused) -> Problem:
    status = 422 if error.reason is domain.Refusal.CONTENT else 409
    return Problem(status, error.reason.value, "Check-in refused", error.detail)


async def create(session: AsyncSession, principal: Principal, draft: Draft, now: datetime) -> Any:
    tenant_id = principal.tenant_id
    if await MembersRepository(session).community(tenant_id, draft.community_id) is None:
        raise Problem(404, "not-found", "Not Found", f"no such community: {draft.community_id}")
    rules = draft.rules
    challenge_id = str(uuid.uuid4())
    await ChallengeRepository(session).add(
        {
            "id": challenge_id,
            "tenant_id": tenant_id,
            "community_id": draft.community_id,
            "group_id": draft.group_id,
            "title": draft.title,
            "rules_text": draft.rules_text,
            "start_date": rules.start_date,
            "end_date": rules.end_date,
            "window_start": rules.window.start if rules.window else None,
            "window_end": rules.window.end if rules.window else None,
            "requires": sorted(part.value for part in rules.requires),
            "min_text_length": rules.min_text_length,
            "required_days": rules.required_days,
            "makeup_cards": rules.makeup_cards,
            "makeup_days": rules.makeup_days,
            "grace_days": rules.grace_days,
            "milestones": sorted(rules.milestones),
            "created_by": principal.subject,
            "created_at": now,
        }
    )
    return await ChallengeRepository(session).get(tenant_id, challenge_id)


async def zone_of(session: AsyncSession, tenant_id: str, community_id: str) -> ZoneInfo:
    known = await MembersRepository(session).community(tenant_id, community_id)
    return zone(known[0] if known else None)


async def readable(session: AsyncSession, principal: Principal, challenge_id: str) -> Any:
    """The challenge, for operators of its tenant and for members who may take part; to
    anyone else it does not exist (404)."""
    challenge = await ChallengeRepository(session).get(principal.tenant_id, challenge_id)
    if challenge is None:
        raise not_found("challenge")
    if is_member(principal) and not await _takes_part(session, principal.subject, challenge):
        raise not_found("challenge")
    return challenge


async def _takes_part(session: AsyncSession, member_id: str, challenge: Any) -> bool:
    states = await MembersRepository(session).of_member(
        challenge.tenant_id, member_id, challenge.community_id
    )
    return may_take_part(states, challenge.community_id, challenge.group_id)


async def record(
    session: AsyncSession,
    principal: Principal,
    challenge_id: str,
    entry: domain.Entry,
    now: datetime,
    makeup_day: date | None = None,
) -> Outcome:
    """A check-in for today (``makeup_day`` None) or a make-up card for a past day: the
    rules decided on the member's standing, locked; the check-in, the standing and the
    events written in this transaction."""
    challenge = await readable(session, principal, challenge_id)
    rules = rules_of(challenge)
    tz = await zone_of(session, challenge.tenant_id, challenge.community_id)
    today = domain.day_of(now, tz)
    try:
        domain.check_content(rules, entry)
        day = domain.on_time_day(rules, now, tz) if makeup_day is None else makeup_day
    except Refused as error:
        raise refused(error) from None
    repo = ChallengeRepository(session)
    member_id = principal.subject
    standing = await repo.lock_participant(principal.tenant_id, challenge.id, member_id, day, now)
    days = await repo.days(principal.tenant_id, challenge.id, member_id)
    progress = domain.Progress(
        days=frozenset(row.day for row in days),
        makeups_used=standing.makeups_used,
        milestones=frozenset(standing.milestones),
        completed=standing.completed_at is not None,
    )
    try:
        if makeup_day is None:
            recorded = domain.check_in(rules, progress, day)
        else:
            recorded = domain.make_up(rules, progress, day, today)
    except Refused as error:
        raise refused(error) from None
    checkin_id = str(uuid.uuid4())
    added = await repo.add_checkin(
        {
            "id": checkin_id,
            "tenant_id": principal.tenant_id,
            "challenge_id": challenge.id,
            "member_id": member_id,
            "day": day,
            "make_up": recorded.make_up,
            "checked_at": now,
            "text": entry.text,
            "images": list(entry.images),
            "link": entry.link,
            "number": entry.number,
        }
    )
    if not added:  # a concurrent request of the member took the day first
        raise refused(Refused(domain.Refusal.ALREADY, f"already checked in for {day}"))
    await _save(repo, challenge, member_id, recorded, now, standing.first_at)
    await add_events(session, _events(challenge, checkin_id, member_id, recorded, now))
    return Outcome(checkin_id, recorded, now)


async def _save(
    repo: ChallengeRepository,
    challenge: Any,
    member_id: str,
    recorded: domain.Recorded,
    now: datetime,
    first_at: datetime,
) -> None:
    progress = recorded.progress
    last = domain.runs(progress.days, challenge.grace_days)[-1]
    values: dict[str, Any] = {
        "total": len(progress.days),
        "streak": last.days,
        "last_day": last.last,
        "best_streak": domain.best_streak(progress.days, challenge.grace_days),
        "makeups_used": progress.makeups_used,
        "milestones": sorted(progress.milestones),
        "first_at": min(first_at, now),
    }
    if recorded.completed_now:
        values["completed_at"] = now
    key = {"tenant_id": challenge.tenant_id, "challenge_id": challenge.id, "member_id": member_id}
    await repo.save_participant(key, values)


def _events(
    challenge: Any, checkin_id: str, member_id: str, recorded: domain.Recorded, now: datetime
) -> list[Any]:
    found = [
        events.checkin_recorded(
            challenge,
            checkin_id,
            member_id,
            recorded.day,
            make_up=recorded.make_up,
            streak=recorded.streak,
            total=recorded.total,
            at=now,
        )
    ]
    found += [
        events.milestone_reached(challenge, member_id, m, now) for m in recorded.new_milestones
    ]
    if recorded.completed_now:
        total_days = rules_of(challenge).total_days
        found.append(
            events.challenge_completed(challenge, member_id, recorded.total, total_days, now)
        )
    return found


@dataclass(frozen=True)
class Standing:
    member_id: str
    streak: int
    total: int
    best_streak: int
    first_at: datetime
    checked_at: datetime | None = None


async def leaderboard(
    session: AsyncSession, challenge: Any, by: str, day: date | None, now: datetime, limit: int
) -> tuple[date, list[Standing]]:
    """``streak`` or ``total`` (all participants), or ``earliest`` (one day's check-ins)."""
    tz = await zone_of(session, challenge.tenant_id, challenge.community_id)
    today = domain.day_of(now, tz)
    repo = ChallengeRepository(session)
    if by == "earliest":
        on = day or today
        rows = await repo.earliest(challenge.tenant_id, challenge.id, on, limit)
        return on, [Standing(r.member_id, 0, 0, 0, r.checked_at, r.checked_at) for r in rows]
    alive_since = today - timedelta(days=challenge.grace_days + 1)
    rows = await repo.by_standing(challenge.tenant_id, challenge.id, alive_since, by, limit)
    return today, [
        Standing(r.member_id, int(r.streak), r.total, r.best_streak, r.first_at) for r in rows
    ]


@dataclass(frozen=True)
class Calendar:
    member_id: str
    today: date
    days: list[tuple[date, domain.DayState]]
    total: int
    streak: int
    best_streak: int
    makeups_left: int
    completed: bool


async def calendar(
    session: AsyncSession, challenge: Any, member_id: str, now: datetime
) -> Calendar:
    rules = rules_of(challenge)
    tz = await zone_of(session, challenge.tenant_id, challenge.community_id)
    today = domain.day_of(now, tz)
    repo = ChallengeRepository(session)
    rows = await repo.days(challenge.tenant_id, challenge.id, member_id)
    standing = await repo.participant(challenge.tenant_id, challenge.id, member_id)
    checked = {row.day: bool(row.make_up) for row in rows}
    days = frozenset(checked)
    return Calendar(
        member_id=member_id,
        today=today,
        days=domain.calendar(rules, checked, today),
        total=len(days),
        streak=domain.current_streak(days, rules.grace_days, today),
        best_streak=domain.best_streak(days, rules.grace_days),
        makeups_left=rules.makeup_cards - (standing.makeups_used if standing else 0),
        completed=standing is not None and standing.completed_at is not None,
    )


async def listed(session: AsyncSession, principal: Principal) -> list[Any]:
    """Operators: every challenge of the tenant; members: those they may take part in."""
    repo = ChallengeRepository(session)
    if not is_member(principal):
        return await repo.of_tenant(principal.tenant_id, None)
    seats = await MembersRepository(session).seats(principal.tenant_id, principal.subject)
    communities = sorted({seat.community_id for seat in seats if seat.active})
    rows = await repo.of_tenant(principal.tenant_id, communities)
    return [row for row in rows if may_take_part(seats, row.community_id, row.group_id)]
