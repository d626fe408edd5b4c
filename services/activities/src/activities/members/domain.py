"""Who may take part, and in which community's days: pure rules over activities' own
projection of onboarding's membership and community events (no call back at request time).

A membership has two parts that move independently, its status and its group, each with
the time of the event that set it, so events applied in any order end in the same state.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_ZONE = "Asia/Shanghai"  # onboarding's default for a community


class Status(StrEnum):
    ACTIVE = "active"
    ENDED = "ended"  # expired, left, removed, refunded, banned: no taking part


@dataclass(frozen=True)
class MembershipState:
    member_id: str
    community_id: str
    status: Status
    status_at: datetime | None  # None: no status event yet (seated until one says)
    group_id: str | None = None
    placed_at: datetime | None = None
    tier: str | None = None  # trial, core...: None until an event names it
    tier_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.status is Status.ACTIVE


@dataclass(frozen=True)
class MembershipFact:
    """What one membership event says, at the time it happened; None: says nothing."""

    member_id: str
    community_id: str
    at: datetime
    status: Status | None = None
    group_id: str | None = None
    placed: bool = False  # the event places the member in ``group_id``
    tier: str | None = None  # the tier the event gives the membership, if any


def supersedes(new_at: datetime, known_at: datetime | None) -> bool:
    """Ties go to the later arrival (onboarding keys by member, so that is its order)."""
    return known_at is None or new_at >= known_at


def fold(state: MembershipState | None, fact: MembershipFact) -> MembershipState:
    """The state after ``fact``; each part moves only if the fact is not older than it."""
    if state is None:
        # A group change can arrive before the activation: seated until a status event,
        # of any time, says otherwise.
        state = MembershipState(fact.member_id, fact.community_id, Status.ACTIVE, None)
    if fact.status is not None and supersedes(fact.at, state.status_at):
        state = replace(state, status=fact.status, status_at=fact.at)
    if fact.placed and supersedes(fact.at, state.placed_at):
        state = replace(state, group_id=fact.group_id, placed_at=fact.at)
    if fact.tier is not None and supersedes(fact.at, state.tier_at):
        state = replace(state, tier=fact.tier, tier_at=fact.at)
    return state


def may_take_part(
    states: list[MembershipState], community_id: str, group_id: str | None = None
) -> bool:
    """An active membership of the community (and of the group, for a group's campaign)."""
    return any(
        s.active and s.community_id == community_id and (group_id is None or s.group_id == group_id)
        for s in states
    )


def tier_in(states: list[MembershipState], community_id: str) -> str | None:
    """The tier of the member's active membership of the community (None: unknown)."""
    for state in states:
        if state.active and state.community_id == community_id:
            return state.tier
    return None


@dataclass(frozen=True)
class LevelFact:
    member_id: str
    level: int
    at: datetime


def level_moves(fact: LevelFact, known_at: datetime | None) -> bool:
    """A level change applies unless a newer one is known (rewards keys by member)."""
    return supersedes(fact.at, known_at)


def fold_level(known: LevelFact | None, fact: LevelFact) -> LevelFact:
    """The member's level after a reported change: the report, unless a newer one is known."""
    return fact if known is None or level_moves(fact, known.at) else known


@lru_cache(maxsize=512)
def zone(name: str | None) -> ZoneInfo:
    """The zone of an IANA name; unknown or missing: the default (producers' data is never
    trusted to name a zone this machine knows)."""
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return ZoneInfo(DEFAULT_ZONE)
