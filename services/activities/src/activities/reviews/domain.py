"""Campaign reviews (复盘): the funnel of one activity, by community, and the comparison
with the previous activity of the same kind. Pure: the repository reads the facts.

A fact says that a member reached a stage of the funnel, in a community. Each kind
records only the stages activities itself knows (``RECORDED``); a stage it cannot see is
left out of its funnel rather than guessed:

- challenge (start: ``start_date``, 00:00 local): took part = checked in once;
  completed = completed (its ``required_days``).
- quiz (``opens_at``): took part = started an attempt; completed = submitted one.
- poll (set up): took part = voted.
- draw (``opens_at``): took part = entered; rewarded = won a prize not given back.
- drop (set up): took part = claimed a share; rewarded = claimed points.
- talk (``starts_at``): took part = asked, upvoted or reported attendance; completed =
  stayed half the talk or more.
- meetup (``opens_at``): registered = any registration; took part = given a seat
  (confirmed, offered, no-show); completed = checked in at the venue.
- referral (``starts_at``): took part = an invitee joined in the period (through its
  channel); completed = the counted joins meet the first tier; rewarded = holds a tier.
- contest (``starts_at``): took part = scored above 0; rewarded = awarded a place.

Reached: the members of the activity's community (its group, for a group's activity;
every community for a tenant-wide contest) in activities' membership projection at the
activity's start (``in_audience``). The projection keeps each membership's current status
and placement with the times of the events that set them, not its history: a membership
is taken as one at the start when it was active then by its last status event, or, its
last status event being later (a renewal, an end), when it was placed (activated, or
moved to a group) before the start. A member moved to another group after the start and
renewed or gone since is therefore missed, unless they took part.

A member counts at a stage when their deepest recorded stage is that one or a later one
(whoever took part was reached, even one who joined after the start), so the counts never
rise along the funnel, whatever the facts. Rates: a stage ÷ the stage before it, and ÷
reached; 0 when the divisor is 0.

"Rewarded" is what activities itself hands out. Points for check-ins, answers, talks
and completed challenges are decided by rewards' earning rules from the events, so
activities leaves those stages (and those points) out rather than guess them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

RATE_DIGITS = 4
TALK_STAYED_SHARE = 0.5  # a talk is "completed" by staying at least half its length


class Kind(StrEnum):
    CHALLENGE = "challenge"
    QUIZ = "quiz"
    POLL = "poll"
    DRAW = "draw"
    DROP = "drop"
    TALK = "talk"
    MEETUP = "meetup"
    REFERRAL = "referral"
    CONTEST = "contest"


class Stage(StrEnum):
    REACHED = "reached"
    REGISTERED = "registered"
    TOOK_PART = "took_part"
    COMPLETED = "completed"
    REWARDED = "rewarded"


STAGES = tuple(Stage)
R, G, T, C, W = STAGES
RECORDED: Mapping[Kind, tuple[Stage, ...]] = {
    Kind.CHALLENGE: (R, T, C),
    Kind.QUIZ: (R, T, C),
    Kind.POLL: (R, T),
    Kind.DRAW: (R, T, W),
    Kind.DROP: (R, T, W),
    Kind.TALK: (R, T, C),
    Kind.MEETUP: (R, G, T, C),
    Kind.REFERRAL: (R, T, C, W),
    Kind.CONTEST: (R, T, W),
}


@dataclass(frozen=True)
class Fact:
    member_id: str
    stage: Stage
    community_id: str | None = None  # None: counted in the total only


@dataclass(frozen=True)
class StageCount:
    stage: Stage
    count: int
    of_previous: float  # ÷ the stage before (reached: 1)
    of_reached: float


@dataclass(frozen=True)
class Points:
    """Points of the activity as activities knows them; None: not known to activities."""

    awarded: int | None = None  # to members (drop shares, draw prizes, awards, tiers)
    charged: int | None = None  # paid by members (meetup seats)


@dataclass(frozen=True)
class Change:
    stage: Stage
    count: int  # this activity's count − the previous one's
    of_reached: float


def rate(part: int, whole: int) -> float:
    return round(part / whole, RATE_DIGITS) if whole else 0.0


def funnel(kind: Kind, facts: Iterable[Fact]) -> tuple[StageCount, ...]:
    """The kind's recorded stages, each counting the members whose deepest stage is it or
    a later one (facts of stages the kind does not record are ignored)."""
    stages = RECORDED[kind]
    index = {stage: i for i, stage in enumerate(stages)}
    deepest: dict[str, int] = {}
    for fact in facts:
        if fact.stage in index:
            deepest[fact.member_id] = max(deepest.get(fact.member_id, 0), index[fact.stage])
    counts = [sum(1 for d in deepest.values() if d >= i) for i in range(len(stages))]
    return tuple(
        StageCount(
            stage,
            counts[i],
            rate(counts[i], counts[i - 1]) if i else rate(counts[0], counts[0]),
            rate(counts[i], counts[0]),
        )
        for i, stage in enumerate(stages)
    )


def by_community(kind: Kind, facts: Sequence[Fact]) -> dict[str, tuple[StageCount, ...]]:
    """The funnel of each community the facts name, in id order."""
    named = sorted({f.community_id for f in facts if f.community_id is not None})
    return {c: funnel(kind, [f for f in facts if f.community_id == c]) for c in named}


def compare(current: Sequence[StageCount], previous: Sequence[StageCount]) -> tuple[Change, ...]:
    """This funnel minus the previous one's, stage by stage (same kind: same stages)."""
    before = {s.stage: s for s in previous}
    return tuple(
        Change(
            s.stage,
            s.count - before[s.stage].count,
            round(s.of_reached - before[s.stage].of_reached, RATE_DIGITS),
        )
        for s in current
        if s.stage in before
    )


def points_change(current: Points, previous: Points) -> Points:
    def minus(a: int | None, b: int | None) -> int | None:
        return None if a is None or b is None else a - b

    return Points(
        minus(current.awarded, previous.awarded), minus(current.charged, previous.charged)
    )


def in_audience(
    active: bool, status_at: datetime | None, placed_at: datetime | None, start: datetime
) -> bool:
    """A membership of the audience at ``start``, from its current state: active since
    before the start; or, when its last status event (an activation, a renewal, an end)
    came after the start, placed before it (the activation places a member, a renewal does
    not, so a member who renewed or left after the start was one at it, a member who joined
    after it was not). Ended before the start: not."""
    if status_at is None or status_at <= start:
        return active
    return placed_at is not None and placed_at <= start


# --- what each kind's rows say -------------------------------------------------------------

MEETUP_STAGES: Mapping[str, Stage] = {
    "applied": Stage.REGISTERED,
    "waitlisted": Stage.REGISTERED,
    "cancelled": Stage.REGISTERED,
    "lapsed": Stage.REGISTERED,
    "rejected": Stage.REGISTERED,
    "confirmed": Stage.TOOK_PART,
    "offered": Stage.TOOK_PART,
    "no_show": Stage.TOOK_PART,
    "attended": Stage.COMPLETED,
}


def meetup_stage(status: str) -> Stage:
    """A registration's deepest stage: any registration; a seat (confirmed, offered, no
    show); checked in at the venue."""
    return MEETUP_STAGES.get(status, Stage.REGISTERED)


def talk_stage(minutes: int, length_minutes: int) -> Stage:
    """Attended (a report) is taking part; staying half the talk or more completes it."""
    stayed = minutes >= TALK_STAYED_SHARE * length_minutes
    return Stage.COMPLETED if stayed else Stage.TOOK_PART


def referral_stage(counted: int, first_tier: int, granted: Sequence[int]) -> Stage:
    """An inviter with a join in the period took part; the first tier's count met
    completes it; a tier held (granted, not revoked) rewards it."""
    if granted:
        return Stage.REWARDED
    return Stage.COMPLETED if counted >= first_tier else Stage.TOOK_PART


@dataclass(frozen=True)
class Invited:
    """An invited join as the referral projection keeps it."""

    membership_id: str
    inviter_id: str
    channel: str | None
    activated_at: datetime
    paid: bool
    window_ends_at: datetime | None
    refunded_at: datetime | None


@dataclass(frozen=True)
class ChannelRow:
    channel: str | None  # None: an invite without a channel tag
    inviters: int
    joined: int
    paid: int
    refunded: int  # inside the refund window
    converted: int  # announced as counting (referral.converted) and not refunded since

    @property
    def converted_rate(self) -> float:
        return rate(self.converted, self.joined)


def _refunded(join: Invited) -> bool:
    if join.refunded_at is None:
        return False
    return join.window_ends_at is None or join.refunded_at < join.window_ends_at


def channels(
    joins: Iterable[Invited],
    starts_at: datetime,
    ends_at: datetime,
    only: str | None,
    converted: set[str],
) -> tuple[ChannelRow, ...]:
    """The campaign's invited joins by channel: those in its period (through its channel,
    when it names one), in channel order (no channel first)."""
    groups: dict[str | None, list[Invited]] = {}
    for join in joins:
        if starts_at <= join.activated_at < ends_at and (only is None or join.channel == only):
            groups.setdefault(join.channel, []).append(join)
    rows = []
    for channel in sorted(groups, key=lambda c: (c is not None, c or "")):
        found = groups[channel]
        rows.append(
            ChannelRow(
                channel,
                inviters=len({j.inviter_id for j in found}),
                joined=len(found),
                paid=sum(1 for j in found if j.paid),
                refunded=sum(1 for j in found if _refunded(j)),
                converted=sum(
                    1 for j in found if j.membership_id in converted and not _refunded(j)
                ),
            )
        )
    return tuple(rows)
