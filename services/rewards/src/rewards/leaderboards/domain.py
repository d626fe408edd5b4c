"""Leaderboards: who earned the most points in a period, per community and per tenant.

- **Score** = lifetime points earned in the period: earnings and positive
  adjustments count, a reversal takes its points back *from the day they were
  earned* (a refunded join bonus never counted), spending and expiry do not
  lower it (redeeming must not cost a member their rank).
- **Periods** are whole local days, like the caps: a community's board counts its
  community's days, the tenant-wide board the tenant's (``rewards.zones``), so each
  board's day turns at its own midnight. ``7d`` is today and the six days before,
  ``30d`` likewise, ``custom`` any ``from``..``to`` (inclusive), ``all`` everything.
- **Ties**: more points first, then whoever reached their score first (the time
  of their last credit in the period), then the member id: one order, always.

The ledger keeps a per-member, per-day sum for each scope (the community, and
the tenant as a whole), written in the same transaction as the entries; per
member totals for all time and for the rolling spans (``SPANS``), so that those
boards are read in index order instead of summed on each request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from rewards.points.domain import Entry
from rewards.zones.domain import TENANT_SCOPE, Zones, local_day

TENANT_WIDE = TENANT_SCOPE  # the scope of the tenant's board; community ids are never empty
SPANS = (7, 30)  # rolling windows kept as rows, in days
MAX_CUSTOM_DAYS = 366
# reached_at of a row only ever moves later; a reversal alone must not move it at all.
NEVER = datetime(1970, 1, 1, tzinfo=UTC)


class Window(StrEnum):
    DAYS_7 = "7d"
    DAYS_30 = "30d"
    ALL = "all"
    CUSTOM = "custom"


class PeriodError(ValueError):
    pass


@dataclass(frozen=True)
class Period:
    first: date | None  # None: all time
    last: date | None


def window_days(as_of: date, span: int) -> Period:
    """The rolling window of ``span`` days that ends on ``as_of``."""
    return Period(as_of - timedelta(days=span - 1), as_of)


def kept_span(days: Period, today: date) -> int | None:
    """The span whose kept rows answer for ``days`` (a rolling window ending today)."""
    if days.first is None or days.last != today:
        return None
    span = (days.last - days.first).days + 1
    return span if span in SPANS else None


def period(window: Window, today: date, first: date | None, last: date | None) -> Period:
    """The days a window covers; ``first``/``last`` only with ``custom``."""
    if window is not Window.CUSTOM:
        if first is not None or last is not None:
            raise PeriodError("from and to go with window=custom only")
        if window is Window.ALL:
            return Period(None, None)
        return window_days(today, 7 if window is Window.DAYS_7 else 30)
    if first is None or last is None:
        raise PeriodError("window=custom needs from and to")
    if last < first:
        raise PeriodError("from must not be after to")
    if (last - first).days >= MAX_CUSTOM_DAYS:
        raise PeriodError(f"a custom period is at most {MAX_CUSTOM_DAYS} days")
    return Period(first, last)


@dataclass(frozen=True)
class ScoreKey:
    scope: str
    day: date


@dataclass(frozen=True)
class Score:
    points: int
    reached_at: datetime  # of the last credit; NEVER when only reversals


def scores(
    entries: Iterable[Entry], earned_at: Callable[[Entry], datetime], zones: Zones
) -> dict[ScoreKey, Score]:
    """What ``entries`` add to a member's rows, summed per scope and day: the
    community's local day on its board, the tenant's on the tenant-wide one.

    ``earned_at`` says when an entry's points were earned: for a reversal, when
    its lot was credited, so that the points leave the day they were counted in.
    """
    found: dict[ScoreKey, Score] = {}
    for entry in entries:
        if entry.lifetime_delta == 0:
            continue
        at = earned_at(entry)
        reached = entry.at if entry.lifetime_delta > 0 else NEVER
        scopes = {TENANT_WIDE, entry.community_id or TENANT_WIDE}
        for scope in scopes:
            key = ScoreKey(scope, local_day(at, zones.of(scope or None)))
            before = found.get(key, Score(0, NEVER))
            found[key] = Score(
                before.points + entry.lifetime_delta, max(before.reached_at, reached)
            )
    return found


@dataclass(frozen=True)
class Standing:
    member_id: str
    points: int
    reached_at: datetime
    rank: int


def ranked(rows: Iterable[tuple[str, int, datetime]], first_rank: int = 1) -> list[Standing]:
    """Rows already in board order (points desc, reached_at, member_id) → standings."""
    return [
        Standing(member_id, points, reached_at, rank)
        for rank, (member_id, points, reached_at) in enumerate(rows, start=first_rank)
    ]
