"""Meetups' use cases: functions taking the caller's session (one transaction per use
case, opened by the entry point; the timers' runner opens its own).

Seats: a first-come registration takes one in the statement that numbers it; every other
seat change (a cancellation, an offer confirmed or lapsed, a review, the draw, the end)
locks the meetup's row first, then reads the registrations it decides on, so two of them
never decide on the same waitlist (``domain.Roster`` is the rule they follow).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from activities import events
from activities.access import is_member
from activities.meetups import domain
from activities.meetups.domain import Status
from activities.meetups.repository import MeetupRepository
from activities.members.domain import may_take_part
from activities.members.repository import MembersRepository
from activities.refusal import Refused
from servicekit import timers
from servicekit.auth import Principal
from servicekit.events import Event
from servicekit.outbox import add_events
from servicekit.problems import Problem, not_found

DRAW_TIMER = "activities.meetup.draw"  # a lottery's draw when registration closes
OFFER_TIMER = "activities.meetup.offer"  # an offer lapses at its deadline
END_TIMER = "activities.meetup.end"  # no-shows recorded at the end

_UNPROCESSABLE = {domain.Refusal.ANSWERS, domain.Refusal.BAD_CODE}


def code_key(secret: str) -> bytes:
    """The check-in codes' HMAC key, derived from the service's secret for this use only."""
    return hashlib.sha256(b"quanzi.activities.meetup-checkin\x00" + secret.encode()).digest()


def meetup_of(row: Any) -> domain.Meetup:
    return domain.Meetup(
        capacity=row.capacity,
        selection=domain.Selection(row.selection),
        opens_at=row.opens_at,
        closes_at=row.closes_at,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        cost_points=row.cost_points,
        confirm_hours=row.confirm_hours,
        questions=tuple(
            domain.Question(q["prompt"], q["required"], tuple(q["options"])) for q in row.questions
        ),
    )


def refused(error: Refused) -> Problem:
    status = 422 if error.reason in _UNPROCESSABLE else 409
    return Problem(status, error.reason.value, "Refused", error.detail)


@dataclass(frozen=True)
class Draft:
    community_id: str
    title: str
    description: str
    city: str
    venue: str
    meetup: domain.Meetup


async def create(session: AsyncSession, principal: Principal, draft: Draft, now: datetime) -> Any:
    tenant_id = principal.tenant_id
    if await MembersRepository(session).community(tenant_id, draft.community_id) is None:
        raise Problem(404, "not-found", "Not Found", f"no such community: {draft.community_id}")
    meetup = draft.meetup
    if meetup.closes_at <= now:
        raise Problem(422, "invalid-meetup", "Invalid meetup", "closes_at must be in the future")
    meetup_id = str(uuid.uuid4())
    seed = secrets.token_hex(32)
    repo = MeetupRepository(session)
    await repo.add(
        {
            "id": meetup_id,
            "tenant_id": tenant_id,
            "community_id": draft.community_id,
            "title": draft.title,
            "description": draft.description,
            "city": draft.city,
            "venue": draft.venue,
            "capacity": meetup.capacity,
            "cost_points": meetup.cost_points,
            "selection": meetup.selection.value,
            "questions": [
                {"prompt": q.prompt, "required": q.required, "options": list(q.options)}
                for q in meetup.questions
            ],
            "opens_at": meetup.opens_at,
            "closes_at": meetup.closes_at,
            "starts_at": meetup.starts_at,
            "ends_at": meetup.ends_at,
            "confirm_hours": meetup.confirm_hours,
            "held": 0,
            "seq": 0,
            "last_seat": 0,
            "seed": seed,
            "seed_hash": domain.commitment(seed),
            "drawn_at": None,
            "ended_at": None,
            "created_by": principal.subject,
            "created_at": now,
        }
    )
    payload = {"tenant_id": tenant_id, "meetup_id": meetup_id}
    if meetup.selection is domain.Selection.LOTTERY:
        await timers.schedule(session, DRAW_TIMER, meetup_id, meetup.closes_at, payload)
    await timers.schedule(session, END_TIMER, meetup_id, meetup.ends_at, payload)
    return await repo.get(tenant_id, meetup_id)


async def readable(
    session: AsyncSession, principal: Principal, meetup_id: str, *, lock: bool = False
) -> Any:
    row = await MeetupRepository(session).get(principal.tenant_id, meetup_id, lock=lock)
    if row is None:
        raise not_found("meetup")
    if is_member(principal):
        states = await MembersRepository(session).of_member(
            principal.tenant_id, principal.subject, row.community_id
        )
        if not may_take_part(states, row.community_id):
            raise not_found("meetup")
    return row


async def listed(session: AsyncSession, principal: Principal) -> list[Any]:
    repo = MeetupRepository(session)
    if not is_member(principal):
        return await repo.of_tenant(principal.tenant_id, None)
    seats = await MembersRepository(session).seats(principal.tenant_id, principal.subject)
    return await repo.of_tenant(
        principal.tenant_id, sorted({s.community_id for s in seats if s.active})
    )


async def register(
    session: AsyncSession,
    principal: Principal,
    meetup_id: str,
    answers: dict[str, str],
    now: datetime,
) -> tuple[Any, Any]:
    row = await readable(session, principal, meetup_id)
    meetup = meetup_of(row)
    try:
        domain.check_open(meetup, now)
        kept = domain.check_answers(meetup, answers)
    except Refused as error:
        raise refused(error) from None
    repo = MeetupRepository(session)
    tenant_id = principal.tenant_id
    if await repo.registration(tenant_id, row.id, member_id=principal.subject) is not None:
        raise refused(Refused(domain.Refusal.ALREADY, "you are registered already"))
    first_come = meetup.selection is domain.Selection.FIRST_COME
    number, seated = await repo.next_number(tenant_id, row.id, seat=first_come)
    status = domain.on_registration(meetup, seated)
    registration_id = str(uuid.uuid4())
    paid = meetup.cost_points if status is Status.CONFIRMED else 0
    added = await repo.add_registration(
        {
            "id": registration_id,
            "tenant_id": tenant_id,
            "meetup_id": row.id,
            "member_id": principal.subject,
            "number": number,
            "status": status.value,
            "queue_pos": number if status is Status.WAITLISTED else None,
            "answers": kept,
            "registered_at": now,
            "confirm_by": None,
            "changed_at": now,
            "paid_points": paid,
        }
    )
    if not added:  # registered at the same moment: the seat taken above is rolled back
        raise refused(Refused(domain.Refusal.ALREADY, "you are registered already"))
    registration = await repo.registration(tenant_id, row.id, id=registration_id)
    published = [events.meetup_registered(row, registration, status.value, now)]
    if status is Status.CONFIRMED:
        published.append(events.meetup_confirmed(row, registration, paid, now))
    await add_events(session, published)
    return row, registration


async def mine(session: AsyncSession, principal: Principal, meetup_id: str) -> tuple[Any, Any]:
    row = await readable(session, principal, meetup_id)
    registration = await MeetupRepository(session).registration(
        principal.tenant_id, row.id, member_id=principal.subject
    )
    if registration is None:
        raise not_found("registration")
    return row, registration


async def roster(
    session: AsyncSession, principal: Principal, meetup_id: str
) -> tuple[Any, list[Any]]:
    """The meetup and every registration, by number (operators)."""
    row = await readable(session, principal, meetup_id)
    return row, await MeetupRepository(session).registrations(row.tenant_id, row.id)


async def _give_back(session: AsyncSession, row: Any, at: datetime) -> list[Event]:
    """A seat given back: offered to the head of the waitlist, or freed. The caller holds
    the meetup's row."""
    repo = MeetupRepository(session)
    meetup = meetup_of(row)
    head = await repo.head_of_waitlist(row.tenant_id, row.id) if at < meetup.starts_at else None
    if head is None:
        await repo.set_held(row.tenant_id, row.id, -1)
        return []
    deadline = domain.offer_deadline(meetup, at)
    await repo.move(
        row.tenant_id,
        head.id,
        Status.WAITLISTED,
        status=Status.OFFERED.value,
        queue_pos=None,
        confirm_by=deadline,
        changed_at=at,
    )
    payload = {"tenant_id": row.tenant_id, "meetup_id": row.id, "registration_id": head.id}
    await timers.schedule(session, OFFER_TIMER, head.id, deadline, payload)
    return [events.meetup_promoted(row, head, deadline, at)]


async def _end_registration(
    session: AsyncSession,
    row: Any,
    registration: Any,
    to: Status,
    reason: str,
    at: datetime,
    *,
    paid: bool = True,
) -> list[Event]:
    """Cancel, lapse, reject or unpay ``registration`` (the caller holds the meetup's
    row); a seat it held goes to the waitlist. ``paid``: False when rewards refused the
    seat's cost, so nothing is refunded."""
    status = Status(registration.status)
    repo = MeetupRepository(session)
    await repo.move(
        row.tenant_id,
        registration.id,
        status,
        status=to.value,
        queue_pos=None,
        confirm_by=None,
        changed_at=at,
        paid_points=0,
    )
    if status is Status.OFFERED:
        await timers.cancel(session, OFFER_TIMER, registration.id)
    refund = domain.refund_on_cancel(status, registration.paid_points) if paid else 0
    published = [events.meetup_cancelled(row, registration, status.value, reason, refund, at)]
    if status in domain.HOLDS_SEAT:
        published += await _give_back(session, row, at)
    return published


async def cancel(
    session: AsyncSession, principal: Principal, meetup_id: str, now: datetime
) -> tuple[Any, Any]:
    row = await readable(session, principal, meetup_id, lock=True)
    repo = MeetupRepository(session)
    registration = await repo.registration(principal.tenant_id, row.id, member_id=principal.subject)
    if registration is None:
        raise not_found("registration")
    try:
        domain.check_cancel(meetup_of(row), Status(registration.status), now)
    except Refused as error:
        raise refused(error) from None
    published = await _end_registration(
        session, row, registration, Status.CANCELLED, "cancelled", now
    )
    await add_events(session, published)
    return row, await repo.registration(principal.tenant_id, row.id, id=registration.id)


async def confirm(
    session: AsyncSession, principal: Principal, meetup_id: str, now: datetime
) -> tuple[Any, Any]:
    """Accept a seat offered from the waitlist (and pay for it)."""
    row = await readable(session, principal, meetup_id, lock=True)
    repo = MeetupRepository(session)
    registration = await repo.registration(principal.tenant_id, row.id, member_id=principal.subject)
    if registration is None:
        raise not_found("registration")
    try:
        domain.check_confirm(Status(registration.status), registration.confirm_by, now)
    except Refused as error:
        raise refused(error) from None
    await repo.move(
        row.tenant_id,
        registration.id,
        Status.OFFERED,
        status=Status.CONFIRMED.value,
        confirm_by=None,
        changed_at=now,
        paid_points=row.cost_points,
    )
    await timers.cancel(session, OFFER_TIMER, registration.id)
    await add_events(session, [events.meetup_confirmed(row, registration, row.cost_points, now)])
    return row, await repo.registration(principal.tenant_id, row.id, id=registration.id)


async def review(
    session: AsyncSession,
    principal: Principal,
    meetup_id: str,
    registration_id: str,
    approve: bool,
    now: datetime,
) -> tuple[Any, Any]:
    row = await readable(session, principal, meetup_id, lock=True)
    repo = MeetupRepository(session)
    registration = await repo.registration(principal.tenant_id, row.id, id=registration_id)
    if registration is None:
        raise not_found("registration")
    try:
        domain.check_review(meetup_of(row), Status(registration.status), now)
    except Refused as error:
        raise refused(error) from None
    if not approve:
        published = await _end_registration(
            session, row, registration, Status.REJECTED, "rejected", now
        )
    elif await repo.take_seat(row.tenant_id, row.id):
        await repo.move(
            row.tenant_id,
            registration.id,
            Status.APPLIED,
            status=Status.CONFIRMED.value,
            changed_at=now,
            paid_points=row.cost_points,
        )
        published = [events.meetup_confirmed(row, registration, row.cost_points, now)]
    else:
        raise refused(Refused(domain.Refusal.FULL, "every seat is taken"))
    await add_events(session, published)
    return row, await repo.registration(principal.tenant_id, row.id, id=registration.id)


async def attend(
    session: AsyncSession,
    principal: Principal,
    meetup_id: str,
    code: str,
    key: bytes,
    now: datetime,
) -> tuple[Any, Any]:
    """Staff scan an attendee's code: once, for a confirmed seat, at this meetup."""
    row = await readable(session, principal, meetup_id)
    repo = MeetupRepository(session)
    try:
        number = domain.read_code(key, row.tenant_id, row.id, code)
        registration = await repo.registration(row.tenant_id, row.id, number=number)
        if registration is None:
            raise Refused(domain.Refusal.BAD_CODE, "no such registration")
        domain.check_attend(meetup_of(row), Status(registration.status), now)
        # Two scans at once: the second finds the status moved.
        if not await repo.move(
            row.tenant_id,
            registration.id,
            Status.CONFIRMED,
            status=Status.ATTENDED.value,
            changed_at=now,
        ):
            raise Refused(domain.Refusal.CODE_USED, "this code was used already")
    except Refused as error:
        raise refused(error) from None
    await add_events(session, [events.meetup_attended(row, registration, now)])
    return row, await repo.registration(row.tenant_id, row.id, id=registration.id)


# --- timers ---------------------------------------------------------------------------


async def draw(session: AsyncSession, tenant_id: str, meetup_id: str, at: datetime) -> None:
    """A lottery's draw, once: the applicants ordered by their tickets; the first to the
    seats left (confirmed), the rest to the waitlist in that order."""
    repo = MeetupRepository(session)
    row = await repo.get(tenant_id, meetup_id, lock=True)
    if row is None or row.drawn_at is not None:
        return
    applied = await repo.registrations(tenant_id, meetup_id, [Status.APPLIED])
    by_id = {r.id: r for r in applied}
    winners, rest = domain.draw(row.seed, list(by_id), row.capacity - row.held)
    moves = [
        {"rid": r, "new_status": "confirmed", "new_pos": None, "at": at, "paid": row.cost_points}
        for r in winners
    ] + [
        {"rid": r, "new_status": "waitlisted", "new_pos": i + 1, "at": at, "paid": 0}
        for i, r in enumerate(rest)
    ]
    await repo.move_many(tenant_id, moves)
    if winners:
        await repo.set_held(tenant_id, meetup_id, len(winners))
    await repo.mark(tenant_id, meetup_id, drawn_at=at)
    await add_events(
        session, [events.meetup_confirmed(row, by_id[r], row.cost_points, at) for r in winners]
    )


async def payment_refused(
    session: AsyncSession, tenant_id: str, meetup_id: str, registration_id: str, at: datetime
) -> None:
    """Rewards refused a confirmed seat's cost (too few points): the seat is freed as a
    cancellation frees it (the head of the waitlist gets an offer), nothing refunded. A
    redelivery, or a registration no longer confirmed, changes nothing."""
    repo = MeetupRepository(session)
    row = await repo.get(tenant_id, meetup_id, lock=True)
    if row is None:
        return
    registration = await repo.registration(tenant_id, meetup_id, id=registration_id)
    if registration is None or not domain.unpaid_frees_seat(Status(registration.status)):
        return
    published = await _end_registration(
        session, row, registration, Status.UNPAID, "payment refused", at, paid=False
    )
    await add_events(session, published)


async def draw_due(session: AsyncSession, timer: timers.Timer) -> None:
    payload = timer.payload
    await draw(session, str(payload["tenant_id"]), str(payload["meetup_id"]), timer.due_at)


async def lapse_due(session: AsyncSession, timer: timers.Timer) -> None:
    """An offer not confirmed by its deadline lapses; the seat goes to the next in line."""
    payload = timer.payload
    tenant_id, meetup_id = str(payload["tenant_id"]), str(payload["meetup_id"])
    repo = MeetupRepository(session)
    row = await repo.get(tenant_id, meetup_id, lock=True)
    if row is None:
        return
    registration = await repo.registration(tenant_id, meetup_id, id=str(payload["registration_id"]))
    if registration is None or registration.status != Status.OFFERED.value:
        return
    published = await _end_registration(
        session, row, registration, Status.LAPSED, "offer lapsed", timer.due_at
    )
    await add_events(session, published)


async def end_due(session: AsyncSession, timer: timers.Timer) -> None:
    """At the end: confirmed seats never checked in are no-shows."""
    payload = timer.payload
    tenant_id, meetup_id = str(payload["tenant_id"]), str(payload["meetup_id"])
    repo = MeetupRepository(session)
    row = await repo.get(tenant_id, meetup_id, lock=True)
    if row is None or row.ended_at is not None:
        return
    confirmed = await repo.registrations(tenant_id, meetup_id, [Status.CONFIRMED])
    missing = domain.no_shows([(r.id, Status(r.status)) for r in confirmed])
    paid = {r.id: r.paid_points for r in confirmed}
    await repo.move_many(
        tenant_id,
        [
            {
                "rid": r,
                "new_status": "no_show",
                "new_pos": None,
                "at": timer.due_at,
                "paid": paid[r],
            }
            for r in missing
        ],
    )
    await repo.mark(tenant_id, meetup_id, ended_at=timer.due_at)
