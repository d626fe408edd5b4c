"""Community health figures: pure functions of the set of facts, whatever their order.

Facts (``MemberFact``, ``Engagement``, ``PointsEntry``) carry their own identity; a store
keeps each once (``Facts`` here, unique keys in the database), so a late, redelivered or
replayed event changes nothing. The figures of a day are computed from the facts whose
local day it is, in the community's zone:

- joined: arrivals (an activation that replaced no tier); activated: every activation
  (arrivals and trial members who paid); paid: activations into a paid term; renewed,
  refunded, left, removed, expired: those events.
- members: memberships whose newest status event on or before the end of the day made
  them active (activated, renewed, reinstated) rather than ended (refunded, left,
  removed, expired, banned).
- active (DAU): members with any engagement that day (a post, a comment, a share, a
  check-in, a quiz); WAU and MAU: over the 7 and 30 days ending that day; the activity
  rate: active ÷ members.
- engagement mix: posts, comments, shares, check-ins, quizzes; points earned and spent.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo


class MemberKind(StrEnum):
    JOINED = "joined"
    ACTIVATED = "activated"
    PAID = "paid"
    RENEWED = "renewed"
    REINSTATED = "reinstated"
    REFUNDED = "refunded"
    LEFT = "left"
    REMOVED = "removed"
    EXPIRED = "expired"
    BANNED = "banned"


STARTS = frozenset({MemberKind.JOINED, MemberKind.ACTIVATED, MemberKind.PAID})
STARTS |= {MemberKind.RENEWED, MemberKind.REINSTATED}
ENDS = frozenset({MemberKind.REFUNDED, MemberKind.LEFT, MemberKind.REMOVED, MemberKind.EXPIRED}) | {
    MemberKind.BANNED
}
COUNTED = (
    MemberKind.JOINED,
    MemberKind.ACTIVATED,
    MemberKind.PAID,
    MemberKind.RENEWED,
    MemberKind.REFUNDED,
    MemberKind.LEFT,
    MemberKind.REMOVED,
    MemberKind.EXPIRED,
)


class EngagementKind(StrEnum):
    POST = "post"
    COMMENT = "comment"
    SHARE = "share"
    CHECKIN = "checkin"
    QUIZ = "quiz"


@dataclass(frozen=True)
class Source:
    """Where a member came from: open, application, invite, payment, routing_code, level;
    the code used and the code's channel tag."""

    kind: str
    code: str | None = None
    channel: str | None = None


@dataclass(frozen=True)
class MemberFact:
    membership_id: str
    community_id: str
    member_id: str
    kind: MemberKind
    at: datetime
    source: Source | None = field(default=None, compare=False)  # on arrivals

    @property
    def key(self) -> tuple[str, str, datetime]:
        return (self.membership_id, self.kind.value, self.at)


@dataclass(frozen=True)
class Engagement:
    kind: EngagementKind
    ref: str  # the thing engaged with: a post, comment, share token, check-in, attempt
    community_id: str
    member_id: str
    at: datetime

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind.value, self.ref, self.community_id)


@dataclass(frozen=True)
class PointsEntry:
    entry_key: str
    community_id: str  # "" when the entry names none (a tenant-wide redemption)
    member_id: str
    earned: int
    spent: int
    at: datetime


Fact = MemberFact | Engagement | PointsEntry


def identity(fact: Fact) -> tuple[object, ...]:
    """What makes a fact the same fact twice."""
    if isinstance(fact, PointsEntry):
        return ("points", fact.entry_key)
    return (type(fact).__name__, *fact.key)


@dataclass
class Facts:
    """A set of facts, each kept once by its identity (the database's unique keys)."""

    members: dict[tuple[object, ...], MemberFact] = field(default_factory=dict)
    engagements: dict[tuple[object, ...], Engagement] = field(default_factory=dict)
    points: dict[tuple[object, ...], PointsEntry] = field(default_factory=dict)

    def add(self, fact: Fact) -> bool:
        """True when the fact is new."""
        store: dict[tuple[object, ...], object]
        if isinstance(fact, MemberFact):
            store = self.members  # type: ignore[assignment]
        elif isinstance(fact, Engagement):
            store = self.engagements  # type: ignore[assignment]
        else:
            store = self.points  # type: ignore[assignment]
        key = identity(fact)
        if key in store:
            return False
        store[key] = fact
        return True


# --- rows as the store hands them over: each fact with its local day ----------------------


@dataclass(frozen=True)
class MemberRow:
    membership_id: str
    kind: MemberKind
    at: datetime
    day: date


@dataclass(frozen=True)
class EngagementRow:
    kind: EngagementKind
    member_id: str
    day: date


@dataclass(frozen=True)
class PointsRow:
    earned: int
    spent: int
    day: date


def rows_of(
    facts: Facts, community_id: str, tz: ZoneInfo
) -> tuple[list[MemberRow], list[EngagementRow], list[PointsRow]]:
    """A community's facts as rows, each on its local day in ``tz``."""

    def day(at: datetime) -> date:
        return at.astimezone(tz).date()

    members = [
        MemberRow(f.membership_id, f.kind, f.at, day(f.at))
        for f in facts.members.values()
        if f.community_id == community_id
    ]
    engaged = [
        EngagementRow(e.kind, e.member_id, day(e.at))
        for e in facts.engagements.values()
        if e.community_id == community_id
    ]
    points = [
        PointsRow(p.earned, p.spent, day(p.at))
        for p in facts.points.values()
        if p.community_id == community_id
    ]
    return members, engaged, points


@dataclass(frozen=True)
class DayFigures:
    day: date
    joined: int = 0
    activated: int = 0
    paid: int = 0
    renewed: int = 0
    refunded: int = 0
    left: int = 0
    removed: int = 0
    expired: int = 0
    members: int = 0
    active: int = 0
    wau: int = 0
    mau: int = 0
    posts: int = 0
    comments: int = 0
    shares: int = 0
    checkins: int = 0
    quizzes: int = 0
    points_earned: int = 0
    points_spent: int = 0

    @property
    def activity_rate(self) -> float:
        return rate(self.active, self.members)


def rate(part: int, whole: int) -> float:
    """``part ÷ whole`` rounded to 4 places; 0 when there is no whole."""
    return round(part / whole, 4) if whole else 0.0


MIX = {
    EngagementKind.POST: "posts",
    EngagementKind.COMMENT: "comments",
    EngagementKind.SHARE: "shares",
    EngagementKind.CHECKIN: "checkins",
    EngagementKind.QUIZ: "quizzes",
}
WINDOWS = {"wau": 7, "mau": 30}
ONE_DAY = timedelta(days=1)
LOOKBACK = timedelta(days=29)  # the engagement days before ``first`` a series needs (MAU)


def series(
    members: Iterable[MemberRow],
    engaged: Iterable[EngagementRow],
    points: Iterable[PointsRow],
    first: date,
    last: date,
) -> list[DayFigures]:
    """The figures of every day ``first..last``. ``members`` must hold every status event
    up to ``last`` (the member count is a running one); ``engaged`` those from
    ``first - LOOKBACK``; any rows outside the range are ignored."""
    counts: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    ordered = sorted(members, key=lambda row: (row.at, row.kind in ENDS, row.kind.value))
    for row in ordered:
        if row.kind in COUNTED:
            counts[row.day][row.kind.value] += 1
    active_on: dict[date, set[str]] = defaultdict(set)
    for e in engaged:
        counts[e.day][MIX[e.kind]] += 1
        active_on[e.day].add(e.member_id)
    for p in points:
        counts[p.day]["points_earned"] += p.earned
        counts[p.day]["points_spent"] += p.spent
    status: dict[str, bool] = {}
    running = 0
    cursor = 0
    out = []
    day = first
    while day <= last:
        while cursor < len(ordered) and ordered[cursor].day <= day:
            row = ordered[cursor]
            was = status.get(row.membership_id, False)
            now = row.kind not in ENDS
            running += int(now) - int(was)
            status[row.membership_id] = now
            cursor += 1
        windows = {
            name: len(
                set().union(*(active_on.get(day - timedelta(days=n), set()) for n in range(length)))
            )
            for name, length in WINDOWS.items()
        }
        out.append(
            DayFigures(
                day=day,
                members=running,
                active=len(active_on.get(day, ())),
                **windows,
                **counts.get(day, {}),
            )
        )
        day += timedelta(days=1)
    return out


@dataclass(frozen=True)
class Summary:
    """A community's health today: members now, who was active today / in 7 / in 30 days,
    the rates, the last 7 days' arrivals and departures, the silent members."""

    community_id: str
    today: date
    members: int
    dau: int
    wau: int
    mau: int
    joined_7d: int
    paid_7d: int
    departed_7d: int  # left, removed, refunded, expired
    silent: int

    @property
    def activity_rate(self) -> float:
        return rate(self.dau, self.members)

    @property
    def weekly_activity_rate(self) -> float:
        return rate(self.wau, self.members)


DEPARTURES = frozenset({MemberKind.LEFT, MemberKind.REMOVED, MemberKind.REFUNDED}) | {
    MemberKind.EXPIRED
}


def summarize(
    community_id: str,
    today: date,
    members: int,
    last_active: Iterable[date],
    week_counts: dict[str, int],
    silent: int,
) -> Summary:
    """``last_active``: each member's last day with an engagement (within 30 days);
    ``week_counts``: member events of the last 7 days by kind."""
    days = list(last_active)

    def within(n: int) -> int:
        return sum(1 for day in days if today - timedelta(days=n - 1) <= day <= today)

    return Summary(
        community_id=community_id,
        today=today,
        members=members,
        dau=within(1),
        wau=within(7),
        mau=within(30),
        joined_7d=week_counts.get(MemberKind.JOINED.value, 0),
        paid_7d=week_counts.get(MemberKind.PAID.value, 0),
        departed_7d=sum(week_counts.get(kind.value, 0) for kind in DEPARTURES),
        silent=silent,
    )


@dataclass(frozen=True)
class MembershipState:
    """One membership: its first arrival (with the source, for channels) and its status as
    the newest status event says (an end wins a tie: both happened, the end is the news)."""

    community_id: str
    member_id: str
    joined_at: datetime | None
    source: Source | None
    active: bool
    status_at: datetime | None


def _status_rank(at: datetime, kind: MemberKind) -> tuple[datetime, bool]:
    return (at, kind in ENDS)


def fold_membership(state: MembershipState | None, fact: MemberFact) -> MembershipState:
    if state is None:
        state = MembershipState(fact.community_id, fact.member_id, None, None, False, None)
    if fact.kind is MemberKind.JOINED and (state.joined_at is None or fact.at < state.joined_at):
        state = MembershipState(
            state.community_id,
            state.member_id,
            fact.at,
            fact.source,
            state.active,
            state.status_at,
        )
    newer = state.status_at is None or _status_rank(fact.at, fact.kind) >= (
        state.status_at,
        not state.active,
    )
    if newer:
        state = MembershipState(
            state.community_id,
            state.member_id,
            state.joined_at,
            state.source,
            fact.kind not in ENDS,
            fact.at,
        )
    return state


class PeriodError(ValueError):
    pass


MAX_DAYS = 366
EARLIEST = date(2000, 1, 1)
LATEST = date(2199, 12, 31)


def period(
    first: date | None, last: date | None, today: date, default_days: int = 30
) -> tuple[date, date]:
    """Both ends inclusive (local days); by default the ``default_days`` ending today."""
    for given in (first, last):
        if given is not None and not EARLIEST <= given <= LATEST:
            raise PeriodError(f"days run from {EARLIEST} to {LATEST}")
    last = last or max(today, first or today)
    first = first or last - timedelta(days=default_days - 1)
    if first > last:
        raise PeriodError("from must not be after to")
    if (last - first).days + 1 > MAX_DAYS:
        raise PeriodError(f"a period covers at most {MAX_DAYS} days")
    return first, last


def combine(per_community: Iterable[list[DayFigures]], first: date, last: date) -> list[DayFigures]:
    """Several communities' series as one: each figure summed by day (members and active
    members count member-community pairs; each community on its own local days)."""
    names = [name for name in DayFigures.__dataclass_fields__ if name != "day"]
    total: dict[date, dict[str, int]] = {}
    for figures in per_community:
        for f in figures:
            sums = total.setdefault(f.day, dict.fromkeys(names, 0))
            for name in names:
                sums[name] += getattr(f, name)
    out = []
    day = first
    while day <= last:
        out.append(DayFigures(day=day, **total.get(day, {})))
        day += timedelta(days=1)
    return out
