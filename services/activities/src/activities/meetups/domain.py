"""Offline meetups (线下活动): registration, selection, the waitlist and venue check-in.

Pure. A meetup has a capacity of seats. A registration that holds a seat is
``confirmed`` (or ``offered``: promoted from the waitlist, holding the seat until its
deadline to confirm). Selection decides how seats are first given:

- ``first_come``: at registration, while seats are left; then the waitlist.
- ``lottery``: everyone applies until registration closes; then a seeded draw, published
  as its hash when the meetup is set up and revealed at the draw, orders the applicants:
  the first ``capacity`` are confirmed, the rest wait in that order (anyone can recompute
  the order from the revealed seed: ``ticket``).
- ``review``: an operator approves (a seat, while one is left) or rejects each one.

A seat given back (a cancellation, an offer not confirmed in time, a seat whose cost
rewards refused: ``unpaid``) goes to the head of the waitlist as an offer, or back to the
pool when nobody waits (``Roster``), so seats held never exceed the capacity and the
waitlist moves in its order.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from activities.refusal import Refused

MAX_CAPACITY = 100_000
MAX_QUESTIONS = 20
MAX_CONFIRM_HOURS = 24 * 14


class Selection(StrEnum):
    FIRST_COME = "first_come"
    LOTTERY = "lottery"
    REVIEW = "review"


class Status(StrEnum):
    APPLIED = "applied"  # lottery or review: waiting for the draw or the operator
    CONFIRMED = "confirmed"  # holds a seat
    OFFERED = "offered"  # promoted from the waitlist: holds a seat until confirm_by
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"
    LAPSED = "lapsed"  # an offer not confirmed in time
    REJECTED = "rejected"  # by the operator's review
    ATTENDED = "attended"  # checked in at the venue
    NO_SHOW = "no_show"  # confirmed, never checked in by the meetup's end
    UNPAID = "unpaid"  # confirmed, but rewards refused its cost (too few points)


HOLDS_SEAT = frozenset({Status.CONFIRMED, Status.OFFERED, Status.ATTENDED, Status.NO_SHOW})
CANCELLABLE = frozenset({Status.APPLIED, Status.CONFIRMED, Status.OFFERED, Status.WAITLISTED})


class InvalidMeetup(ValueError):
    pass


class Refusal(StrEnum):
    NOT_OPEN = "registration-not-open"
    CLOSED = "registration-closed"
    ANSWERS = "invalid-answers"
    ALREADY = "already-registered"
    NOT_CANCELLABLE = "not-cancellable"
    STARTED = "meetup-started"
    NO_OFFER = "no-offer"
    OFFER_LAPSED = "offer-lapsed"
    FULL = "meetup-full"
    NOT_REVIEWABLE = "not-reviewable"
    BAD_CODE = "invalid-code"
    CODE_USED = "code-used"
    NOT_CONFIRMED = "not-confirmed"


@dataclass(frozen=True)
class Question:
    """A question of the registration form; ``options``: choose one of them, else free text."""

    prompt: str
    required: bool = True
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class Meetup:
    capacity: int
    selection: Selection
    opens_at: datetime  # registration window [opens_at, closes_at)
    closes_at: datetime
    starts_at: datetime
    ends_at: datetime
    cost_points: int = 0  # 0: free
    confirm_hours: int = 24  # an offer's time to confirm (never past the start)
    questions: tuple[Question, ...] = field(default=())

    def __post_init__(self) -> None:
        if not 1 <= self.capacity <= MAX_CAPACITY:
            raise InvalidMeetup(f"capacity is 1..{MAX_CAPACITY}")
        if self.cost_points < 0:
            raise InvalidMeetup("cost_points is 0 (free) or more")
        if not self.opens_at < self.closes_at <= self.starts_at < self.ends_at:
            raise InvalidMeetup("opens_at < closes_at <= starts_at < ends_at")
        if not 1 <= self.confirm_hours <= MAX_CONFIRM_HOURS:
            raise InvalidMeetup(f"confirm_hours is 1..{MAX_CONFIRM_HOURS}")
        if len(self.questions) > MAX_QUESTIONS:
            raise InvalidMeetup(f"at most {MAX_QUESTIONS} questions")
        for question in self.questions:
            if question.options and len(set(question.options)) != len(question.options):
                raise InvalidMeetup(f"options of {question.prompt!r} must differ")
            if len(question.options) == 1:
                raise InvalidMeetup(f"{question.prompt!r}: a choice needs 2 options or more")


def check_open(meetup: Meetup, now: datetime) -> None:
    if now < meetup.opens_at:
        raise Refused(Refusal.NOT_OPEN, "registration has not opened yet")
    if now >= meetup.closes_at:
        raise Refused(Refusal.CLOSED, "registration is closed")


def check_answers(meetup: Meetup, answers: Mapping[str, str]) -> dict[str, str]:
    """The answers kept, keyed by question number ("0", "1", ...): every required
    question answered, a choice one of its options, nothing else."""
    known = {str(i): q for i, q in enumerate(meetup.questions)}
    unknown = sorted(set(answers) - set(known))
    if unknown:
        raise Refused(Refusal.ANSWERS, f"no such questions: {', '.join(unknown)}")
    kept = {}
    for key, question in known.items():
        answer = answers.get(key, "").strip()
        if not answer:
            if question.required:
                raise Refused(Refusal.ANSWERS, f"question {key} needs an answer")
            continue
        if question.options and answer not in question.options:
            raise Refused(Refusal.ANSWERS, f"question {key}: one of {list(question.options)}")
        kept[key] = answer
    return kept


def on_registration(meetup: Meetup, seat_taken: bool) -> Status:
    """A new registration's status; ``seat_taken``: first come, a seat was left for it."""
    if meetup.selection is not Selection.FIRST_COME:
        return Status.APPLIED
    return Status.CONFIRMED if seat_taken else Status.WAITLISTED


def check_cancel(meetup: Meetup, status: Status, now: datetime) -> None:
    if now >= meetup.starts_at:
        raise Refused(Refusal.STARTED, "the meetup has started")
    if status not in CANCELLABLE:
        raise Refused(Refusal.NOT_CANCELLABLE, f"a {status.value} registration cannot cancel")


def offer_deadline(meetup: Meetup, now: datetime) -> datetime:
    """An offer waits ``confirm_hours``, and never past the start."""
    return min(now + timedelta(hours=meetup.confirm_hours), meetup.starts_at)


def check_confirm(status: Status, confirm_by: datetime | None, now: datetime) -> None:
    if status is not Status.OFFERED or confirm_by is None:
        raise Refused(Refusal.NO_OFFER, "no seat is offered to you")
    if now >= confirm_by:
        raise Refused(Refusal.OFFER_LAPSED, "the offer's time to confirm is over")


def check_review(meetup: Meetup, status: Status, now: datetime) -> None:
    if meetup.selection is not Selection.REVIEW or status is not Status.APPLIED:
        raise Refused(Refusal.NOT_REVIEWABLE, "only an applied registration of a reviewed meetup")
    if now >= meetup.starts_at:
        raise Refused(Refusal.STARTED, "the meetup has started")


def unpaid_frees_seat(status: Status) -> bool:
    """Rewards refused a seat's cost: a seat still confirmed is freed (and goes to the
    waitlist). One already checked in, marked a no-show or ended otherwise stays as it is:
    the venue let the member in, or the seat is gone already."""
    return status is Status.CONFIRMED


def refund_on_cancel(status: Status, paid_points: int) -> int:
    """Points given back when a registration cancels: what it paid, where it paid
    (a seat is paid when confirmed; an offer or a waitlist place pays nothing)."""
    return paid_points if status is Status.CONFIRMED else 0


# --- the seats and the waitlist -----------------------------------------------------------


@dataclass(frozen=True)
class Roster:
    """Seats held and the waitlist, in order: the rule the service's statements follow
    (a seat taken while ``held < capacity``; a seat given back goes to the head of the
    waitlist, else back to the pool)."""

    capacity: int
    held: int = 0
    waitlist: tuple[str, ...] = ()

    def take(self) -> tuple[Roster, bool]:
        """A first-come registration: a seat if one is left (and nobody waits for one)."""
        if self.held < self.capacity and not self.waitlist:
            return replace(self, held=self.held + 1), True
        return self, False

    def wait(self, registration: str) -> Roster:
        return replace(self, waitlist=(*self.waitlist, registration))

    def leave_waitlist(self, registration: str) -> Roster:
        return replace(self, waitlist=tuple(r for r in self.waitlist if r != registration))

    def give_back(self) -> tuple[Roster, str | None]:
        """A seat given back: offered to the head of the waitlist (returned), or freed."""
        if self.waitlist:
            head, *rest = self.waitlist
            return replace(self, waitlist=tuple(rest)), head
        return replace(self, held=self.held - 1), None


# --- the lottery --------------------------------------------------------------------------


def commitment(seed: str) -> str:
    """Published when the meetup is set up, before anyone registers: the seed cannot be
    chosen after seeing who applied."""
    return hashlib.sha256(seed.encode()).hexdigest()


def ticket(seed: str, registration_id: str) -> str:
    return hashlib.sha256(f"{seed}:{registration_id}".encode()).hexdigest()


def draw(seed: str, applicants: Iterable[str], capacity: int) -> tuple[list[str], list[str]]:
    """The winners (confirmed) and the rest (the waitlist, in order): applicants ordered
    by their ticket (ties, never in practice, by id)."""
    ordered = sorted(applicants, key=lambda r: (ticket(seed, r), r))
    return ordered[:capacity], ordered[capacity:]


# --- venue check-in codes -----------------------------------------------------------------

CODE_MAC_BYTES = 10  # 80 bits: 16 base32 characters


def _mac(key: bytes, tenant_id: str, meetup_id: str, number: int) -> str:
    message = f"meetup-checkin:{tenant_id}:{meetup_id}:{number}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()[:CODE_MAC_BYTES]
    return base64.b32encode(digest).decode().rstrip("=")


def checkin_code(key: bytes, tenant_id: str, meetup_id: str, number: int) -> str:
    """The attendee's code, ``<number>-<mac>``: their registration's number in the meetup
    and an HMAC of it under the service's key. Short enough for a QR code or to read out;
    it cannot be made without the key, and works at this meetup only."""
    return f"{number}-{_mac(key, tenant_id, meetup_id, number)}"


def read_code(key: bytes, tenant_id: str, meetup_id: str, code: str) -> int:
    """The registration number a code names; refused when the code is not one we made."""
    number_text, _, mac = code.strip().upper().partition("-")
    if not number_text.isdigit() or len(number_text) > 9 or not mac:
        raise Refused(Refusal.BAD_CODE, "not a check-in code")
    number = int(number_text)
    if not hmac.compare_digest(mac, _mac(key, tenant_id, meetup_id, number)):
        raise Refused(Refusal.BAD_CODE, "not a check-in code of this meetup")
    return number


def check_attend(meetup: Meetup, status: Status, now: datetime) -> None:
    if status is Status.ATTENDED:
        raise Refused(Refusal.CODE_USED, "this code was used already")
    if status is not Status.CONFIRMED:
        raise Refused(Refusal.NOT_CONFIRMED, f"a {status.value} registration has no seat")
    if now >= meetup.ends_at:
        raise Refused(Refusal.STARTED, "the meetup is over")


def no_shows(statuses: Sequence[tuple[str, Status]]) -> list[str]:
    """At the end: who was confirmed and never checked in."""
    return [r for r, status in statuses if status is Status.CONFIRMED]
