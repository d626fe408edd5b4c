"""Referral campaigns (裂变 / 任务宝): which invited joins count for an inviter, the goal
tiers they reach, clawback, and the patterns flagged for an operator.

Pure. The joins come from onboarding's ``membership.activated`` (``source.inviter_id``,
``source.channel``) and ``membership.refunded``. A join counts for its inviter in a
campaign when, at the time of evaluation ``now``:

- it happened in the campaign's period ``[starts_at, ends_at)`` (and, when the campaign
  names a channel, through that channel);
- it is not a self-invite, and not part of an invite cycle (the invitee is not among
  the inviter's own inviters, at any depth: A→B→C→A counts for none of them);
- it was not refunded inside its refund window, and, by the campaign's ``counting``:
  ``past_refund_window``: its refund window is over (a free join, without one, at once);
  ``paid``: it is paid (it has a refund window), at once;
- it is within the daily cap: at most ``daily_cap`` counted joins per inviter and local
  day (the community's zone), the earliest first.

Clawback policy: tiers follow the count. A tier whose threshold the count no longer meets
(an invitee refunded inside the window, under ``paid`` counting) is revoked
(``referral.revoked``, for rewards to reverse what it paid); met again later, it is
granted again. Under ``past_refund_window`` counting a join counts only once its window
is over, when a refund is no longer possible, so nothing granted is ever taken back.

Suspicious patterns (self-invites, cycles, joins over the daily cap, two or more refunded
invitees) flag the participant: their tier rewards are withheld until an operator clears
them, never silently paid.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

MAX_TIERS = 10
REFUNDS_FLAGGED = 2


class Counting(StrEnum):
    PAST_REFUND_WINDOW = "past_refund_window"
    PAID = "paid"


class Exclusion(StrEnum):
    OUTSIDE_PERIOD = "outside_period"
    OTHER_CHANNEL = "other_channel"
    SELF_INVITE = "self_invite"
    CYCLE = "cycle"
    REFUNDED = "refunded"
    NOT_PAID = "not_paid"
    IN_REFUND_WINDOW = "in_refund_window"  # pending: counts once the window is over
    OVER_DAILY_CAP = "over_daily_cap"


# Reasons that flag the inviter for an operator's look.
FLAGGING = frozenset({Exclusion.SELF_INVITE, Exclusion.CYCLE, Exclusion.OVER_DAILY_CAP})


class InvalidCampaign(ValueError):
    pass


@dataclass(frozen=True)
class Tier:
    invites: int  # counted joins needed
    points: int = 0
    badge: str | None = None


@dataclass(frozen=True)
class Campaign:
    starts_at: datetime
    ends_at: datetime
    tiers: tuple[Tier, ...]
    counting: Counting = Counting.PAST_REFUND_WINDOW
    channel: str | None = None  # only joins through this channel; None: any invite
    daily_cap: int = 20

    def __post_init__(self) -> None:
        if self.starts_at >= self.ends_at:
            raise InvalidCampaign("starts_at must be before ends_at")
        if not 1 <= len(self.tiers) <= MAX_TIERS:
            raise InvalidCampaign(f"1..{MAX_TIERS} tiers")
        needed = [t.invites for t in self.tiers]
        if needed != sorted(set(needed)) or needed[0] < 1:
            raise InvalidCampaign("tiers need 1 or more invites, strictly rising")
        if any(t.points < 0 for t in self.tiers):
            raise InvalidCampaign("a tier's points are 0 or more")
        if self.daily_cap < 1:
            raise InvalidCampaign("daily_cap is 1 or more")


@dataclass(frozen=True)
class Join:
    """An invited join (one membership), as the projection keeps it."""

    membership_id: str
    member_id: str  # the invitee
    inviter_id: str
    activated_at: datetime
    channel: str | None = None
    paid: bool = False
    window_ends_at: datetime | None = None  # the refund window's end; None: none
    refunded_at: datetime | None = None


@dataclass(frozen=True)
class Count:
    counted: tuple[Join, ...]  # in the order they count
    excluded: Mapping[str, Exclusion]  # membership_id → why not (yet)
    flags: frozenset[str] = field(default=frozenset())

    @property
    def total(self) -> int:
        return len(self.counted)

    @property
    def pending(self) -> int:
        return sum(1 for e in self.excluded.values() if e is Exclusion.IN_REFUND_WINDOW)


def ancestors(invited_by: Mapping[str, Iterable[str]], member: str) -> set[str]:
    """Everyone who invited ``member``, or their inviters, at any depth."""
    seen: set[str] = set()
    todo = list(invited_by.get(member, ()))
    while todo:
        inviter = todo.pop()
        if inviter not in seen:
            seen.add(inviter)
            todo.extend(invited_by.get(inviter, ()))
    return seen


def _refunded(join: Join, now: datetime) -> bool:
    """Refunded by ``now``, inside the window (a refund is only possible there; one
    reported after the window's end changes nothing)."""
    if join.refunded_at is None or join.refunded_at > now:
        return False
    return join.window_ends_at is None or join.refunded_at < join.window_ends_at


def _exclusion(
    campaign: Campaign, join: Join, inviter_ancestors: set[str], now: datetime
) -> Exclusion | None:
    if not campaign.starts_at <= join.activated_at < campaign.ends_at:
        return Exclusion.OUTSIDE_PERIOD
    if campaign.channel is not None and join.channel != campaign.channel:
        return Exclusion.OTHER_CHANNEL
    if join.member_id == join.inviter_id:
        return Exclusion.SELF_INVITE
    if join.member_id in inviter_ancestors:
        return Exclusion.CYCLE
    if _refunded(join, now):
        return Exclusion.REFUNDED
    if campaign.counting is Counting.PAID:
        return None if join.paid else Exclusion.NOT_PAID
    if join.window_ends_at is not None and now < join.window_ends_at:
        return Exclusion.IN_REFUND_WINDOW
    return None


def count(
    campaign: Campaign,
    joins: Sequence[Join],
    inviter_ancestors: set[str],
    zone: ZoneInfo,
    now: datetime,
) -> Count:
    """One inviter's joins (``joins``, all with the same inviter) as of ``now``."""
    counted: list[Join] = []
    excluded: dict[str, Exclusion] = {}
    per_day: dict[date, int] = defaultdict(int)
    ordered = sorted(
        (j for j in joins if j.activated_at <= now),
        key=lambda j: (j.activated_at, j.member_id, j.membership_id),
    )
    for join in ordered:
        reason = _exclusion(campaign, join, inviter_ancestors, now)
        if reason is None:
            day = join.activated_at.astimezone(zone).date()
            if per_day[day] >= campaign.daily_cap:
                reason = Exclusion.OVER_DAILY_CAP
            else:
                per_day[day] += 1
                counted.append(join)
                continue
        excluded[join.membership_id] = reason
    flags = {reason.value for reason in excluded.values() if reason in FLAGGING}
    refunded = sum(1 for reason in excluded.values() if reason is Exclusion.REFUNDED)
    if refunded >= REFUNDS_FLAGGED:
        flags.add("refunds")
    return Count(tuple(counted), excluded, frozenset(flags))


def reached(campaign: Campaign, total: int) -> set[int]:
    """The tiers (by index) a count meets."""
    return {i for i, tier in enumerate(campaign.tiers) if total >= tier.invites}


@dataclass(frozen=True)
class Changes:
    grant: tuple[int, ...]
    revoke: tuple[int, ...]
    withheld: tuple[int, ...]  # reached but flagged: the operator looks first


def settle(
    campaign: Campaign, total: int, granted: set[int], *, flagged: bool, cleared: bool
) -> Changes:
    """What to grant and revoke so the tiers granted follow the count (the clawback
    policy); a flagged participant not cleared gets no new grant."""
    met = reached(campaign, total)
    new = sorted(met - granted)
    revoke = tuple(sorted(granted - met))
    if flagged and not cleared:
        return Changes((), revoke, tuple(new))
    return Changes(tuple(new), revoke, ())


def rank(rows: Iterable[tuple[str, int, datetime | None]]) -> list[tuple[str, int]]:
    """The leaderboard: most counted joins first; a tie goes to who reached it first
    (the time of their last counted join), then the member id."""
    ordered = sorted(
        (r for r in rows if r[1] > 0),
        key=lambda r: (-r[1], r[2] is None, r[2].timestamp() if r[2] else 0.0, r[0]),
    )
    return [(member, total) for member, total, _ in ordered]
