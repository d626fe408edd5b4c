"""Silent members (沉默用户) and reactivation. Pure, no I/O.

A member is silent once ``N`` whole local days of their community have passed with no
engagement (N per community, default 14): someone last seen on 1 December, at any hour,
is silent from the start of 16 December. The arrival counts as the first sign of life.
Each member has one timer at that instant, moved by every engagement (no nightly scan).

Going silent puts the member in one arm for good: held out (receives no outreach) or
contacted, by a hash of tenant, community and member against the community's hold-out
share, so the same member is always in the same arm and the share holds over many
members. Engagement after the silence began is a reactivation. The report compares the
reactivation rates of the two arms: the outreach works when contacted members come back
more often than held-out ones.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from insights.communities.domain import day_start

BUCKETS = 10_000  # hold-out shares in hundredths of a percent


def silent_at(last_engaged_at: datetime, days: int, tz: ZoneInfo) -> datetime:
    """The instant a member last seen at ``last_engaged_at`` becomes silent: the start of
    the local day ``days + 1`` days after that one."""
    last_day = last_engaged_at.astimezone(tz).date()
    return day_start(last_day + timedelta(days=days + 1), tz)


def held_out(tenant_id: str, community_id: str, member_id: str, percent: int) -> bool:
    """Whether the member is in the held-out arm of a ``percent`` % hold-out."""
    digest = hashlib.sha256(f"{tenant_id}\x1f{community_id}\x1f{member_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS < percent * (BUCKETS // 100)


@dataclass(frozen=True)
class Presence:
    last_engaged_at: datetime
    active: bool  # the membership is active (ended members are never silent)
    silent_since: datetime | None = None


@dataclass(frozen=True)
class Seen:
    """What an engagement does to a presence: the new presence, and whether it ended a
    silence (a reactivation, of the silence that began at ``ended_silence``)."""

    presence: Presence
    ended_silence: datetime | None


def seen(known: Presence | None, at: datetime) -> Seen:
    """An engagement at ``at``. Order-tolerant: the last engagement is the latest one
    whatever the arrival order; only an engagement after the silence began ends it."""
    if known is None:
        return Seen(Presence(at, True), None)
    last = max(known.last_engaged_at, at)
    if known.silent_since is not None and at >= known.silent_since:
        return Seen(Presence(last, known.active, None), known.silent_since)
    return Seen(replace(known, last_engaged_at=last), None)


def arrived(known: Presence | None, at: datetime) -> Presence:
    """The membership became active at ``at``: a sign of life, and silences may start."""
    if known is None:
        return Presence(at, True)
    return replace(known, last_engaged_at=max(known.last_engaged_at, at), active=True)


def ended(known: Presence | None, at: datetime) -> Presence | None:
    """The membership ended: no silence is detected any more (the episode in progress,
    if any, stays in the report)."""
    return None if known is None else replace(known, active=False, silent_since=None)


def goes_silent(known: Presence | None, due_at: datetime, days: int, tz: ZoneInfo) -> bool:
    """The timer fired at ``due_at``: silent when the membership is active, not already
    silent, and no engagement moved the instant past ``due_at``."""
    if known is None or not known.active or known.silent_since is not None:
        return False
    return silent_at(known.last_engaged_at, days, tz) <= due_at


@dataclass(frozen=True)
class ArmFigures:
    silent: int
    reactivated: int

    @property
    def rate(self) -> float:
        return round(self.reactivated / self.silent, 4) if self.silent else 0.0


@dataclass(frozen=True)
class Report:
    contacted: ArmFigures
    held_out: ArmFigures

    @property
    def lift(self) -> float:
        """Contacted minus held-out reactivation rate (percentage points as a fraction)."""
        return round(self.contacted.rate - self.held_out.rate, 4)


def report(episodes: list[tuple[bool, bool]]) -> Report:
    """``episodes``: (held out, reactivated) per silence."""

    def arm(flag: bool) -> ArmFigures:
        mine = [back for out, back in episodes if out is flag]
        return ArmFigures(len(mine), sum(mine))

    return Report(contacted=arm(False), held_out=arm(True))
