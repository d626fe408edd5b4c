"""Contests and monthly awards (月度评选): members ranked by an activity metric over a
period of local days, the top N awarded once at the end.

Pure. A contest's period is ``start_date``..``end_date`` (inclusive) in the local days of
its zone (its community's; a tenant-wide contest names one), that is the instants
``[midnight starting start_date, midnight ending end_date)``.

Ranking works on *facts*: ``Fact(member, key, amount, at)``, where ``key`` names what the
amount is of (one quiz: retaking it scores its best attempt, not the sum; every check-in
its own key). A member's score is the sum over keys of the best amount per key; the
member *reached* the score when the last of those bests was made (for each key the
earliest fact making its best). The order is score (highest first), then reach (earliest
first: who got there first), then member id (code points): a total order, so the same
facts give the same standings whatever order they come in. Members scoring 0 are not
ranked. Place ``i`` (1-based) of the standings receives ``awards[i - 1]``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from activities.refusal import Refused

MAX_DAYS = 366
MAX_AWARDS = 50  # the top N awarded
MAX_POINTS = 1_000_000


class Metric(StrEnum):
    """What a contest ranks by: activities' own records (rewards' points are not
    projected into activities, so a contest cannot rank by them)."""

    CHECKINS = "checkins"  # check-ins to challenges for days of the period
    QUIZ_POINTS = "quiz_points"  # correct answers, each quiz's best attempt
    CHALLENGES_COMPLETED = "challenges_completed"  # challenges completed in the period


class Scope(StrEnum):
    COMMUNITY = "community"  # the community's challenges and quizzes
    TENANT = "tenant"  # every community's


class Status(StrEnum):
    UPCOMING = "upcoming"
    RUNNING = "running"
    ENDED = "ended"  # the period is over; the awards are being settled
    FINISHED = "finished"
    CANCELLED = "cancelled"


class Refusal(StrEnum):
    FINISHED = "contest-finished"
    CANCELLED = "contest-cancelled"
    RUNNING = "contest-running"


class InvalidContest(ValueError):
    pass


@dataclass(frozen=True)
class Award:
    """What one place receives: points (credited by rewards), a badge, a title."""

    points: int = 0
    badge: str | None = None
    title: str | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.points <= MAX_POINTS:
            raise InvalidContest(f"an award's points are 0..{MAX_POINTS}")
        if self.points == 0 and not self.badge and not self.title:
            raise InvalidContest("an award gives points, a badge or a title")


@dataclass(frozen=True)
class Period:
    start_date: date
    end_date: date

    def __post_init__(self) -> None:
        if self.end_date < self.start_date:
            raise InvalidContest("end_date must not be before start_date")
        if (self.end_date - self.start_date).days + 1 > MAX_DAYS:
            raise InvalidContest(f"a contest lasts at most {MAX_DAYS} days")

    def starts_at(self, tz: ZoneInfo) -> datetime:
        return _midnight(self.start_date, tz)

    def ends_at(self, tz: ZoneInfo) -> datetime:
        """The midnight after the last day: when the contest is settled."""
        return _midnight(self.end_date + timedelta(days=1), tz)


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


def check_awards(awards: Sequence[Award]) -> None:
    if not 1 <= len(awards) <= MAX_AWARDS:
        raise InvalidContest(f"a contest awards its top 1..{MAX_AWARDS}")


def status(
    *,
    starts_at: datetime,
    ends_at: datetime,
    finished: bool,
    cancelled: bool,
    now: datetime,
) -> Status:
    if cancelled:
        return Status.CANCELLED
    if finished:
        return Status.FINISHED
    if now < starts_at:
        return Status.UPCOMING
    return Status.RUNNING if now < ends_at else Status.ENDED


def check_cancel(current: Status) -> None:
    if current is Status.FINISHED:
        raise Refused(Refusal.FINISHED, "the contest is finished and awarded")
    if current is Status.CANCELLED:
        raise Refused(Refusal.CANCELLED, "the contest is cancelled already")


def check_finish(current: Status) -> None:
    """An operator settles an ended contest (the timer's work, when it runs late)."""
    if current is Status.CANCELLED:
        raise Refused(Refusal.CANCELLED, "the contest is cancelled")
    if current in (Status.UPCOMING, Status.RUNNING):
        raise Refused(Refusal.RUNNING, "the contest's period is not over")


@dataclass(frozen=True)
class Fact:
    member_id: str
    key: str  # what the amount is of: the best per key counts
    amount: int
    at: datetime


@dataclass(frozen=True)
class Standing:
    place: int  # 1-based; no two members share one
    member_id: str
    score: int
    reached_at: datetime


def _order(item: tuple[str, int, datetime]) -> tuple[int, datetime, str]:
    member, score, reached = item
    return (-score, reached, member)


def standings(facts: Iterable[Fact]) -> list[Standing]:
    """Every member scoring above 0, in place order (see the module's rules)."""
    best: dict[tuple[str, str], tuple[int, datetime]] = {}
    for fact in facts:
        slot = (fact.member_id, fact.key)
        known = best.get(slot)
        if (
            known is None
            or fact.amount > known[0]
            or (fact.amount == known[0] and fact.at < known[1])
        ):
            best[slot] = (fact.amount, fact.at)
    totals: dict[str, tuple[int, datetime]] = {}
    for (member, _), (amount, at) in best.items():
        if amount <= 0:
            continue
        score, reached = totals.get(member, (0, at))
        totals[member] = (score + amount, max(reached, at))
    ranked = sorted(((m, s, r) for m, (s, r) in totals.items()), key=_order)
    return [Standing(place, m, s, r) for place, (m, s, r) in enumerate(ranked, start=1)]


def winners(ranked: Sequence[Standing], awards: Sequence[Award]) -> list[tuple[Standing, Award]]:
    """The top places with their awards (fewer when fewer members scored)."""
    return list(zip(ranked[: len(awards)], awards, strict=False))


def standing_of(ranked: Sequence[Standing], member_id: str) -> Standing | None:
    return next((s for s in ranked if s.member_id == member_id), None)
