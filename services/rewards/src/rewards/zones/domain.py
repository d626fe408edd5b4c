"""Local days: which calendar day an instant falls on for a community, and where a day
starts. The one place rewards turns instants into days (caps, streaks, leaderboards,
reports, expiry at the end of a day, month or year).

A community's day runs from its local midnight to the next, in its IANA zone, so a day
is 23 or 25 hours long when the clocks change. A community whose zone rewards has not
heard of counts in its tenant's zone, and a tenant's zone defaults to Asia/Shanghai
(onboarding's default for communities). Tenant-wide figures use the tenant's zone.
Instants stay UTC everywhere else (storage, events); only the day is local.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

DEFAULT_ZONE = "Asia/Shanghai"
TENANT_SCOPE = ""  # the tenant's own zone in a scope → zone map; community ids are never empty


@lru_cache(maxsize=512)
def zone(name: str | None) -> ZoneInfo:
    """The zone of an IANA name; an unknown or missing name is the default zone (a
    producer's data is never trusted to be a zone this machine knows)."""
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return ZoneInfo(DEFAULT_ZONE)


def known_zone(name: object) -> str | None:
    """``name`` if it is an IANA zone this machine knows, else None."""
    return name if isinstance(name, str) and name in _known() else None


@lru_cache(maxsize=1)
def _known() -> frozenset[str]:
    return frozenset(available_timezones())


def local_day(at: datetime, tz: ZoneInfo) -> date:
    """The calendar day ``at`` (an aware instant) falls on in ``tz``."""
    return at.astimezone(tz).date()


def day_start(day: date, tz: ZoneInfo) -> datetime:
    """The first instant of ``day`` in ``tz``, in UTC.

    A midnight that a DST change skips (clocks 00:00 → 01:00) resolves with fold=0 to
    the offset before the change, which is the instant of the change: the day's first.
    A midnight that happens twice starts the day at the first one."""
    return datetime.combine(day, time(), tz).astimezone(UTC)


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """``[start, end)`` of ``day`` in ``tz``, in UTC: 23, 24 or 25 hours."""
    return day_start(day, tz), day_start(day + timedelta(days=1), tz)


def days_bounds(first: date, last: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """``[start of first, end of last)``: the instants of the days ``first..last``."""
    return day_start(first, tz), day_start(last + timedelta(days=1), tz)


def offsets(start: datetime, end: datetime, tz: ZoneInfo) -> list[tuple[datetime, int]]:
    """The UTC offsets of ``tz`` over ``[start, end)``: (from this instant, offset in
    seconds) pieces in order, the first from ``start``. Lets a query turn stored UTC
    times into local days with plain arithmetic: local time = UTC time + the offset of
    its piece. Offsets are sampled a day apart (zones change at most a few times a
    year) and a change is found to the second by bisection."""
    pieces = [(start, _offset(start, tz))]
    at = start
    while at < end:
        step = min(at + timedelta(days=1), end)
        if _offset(step, tz) == pieces[-1][1]:
            at = step
            continue
        low, high = int(at.timestamp()), int(step.timestamp())  # changes in (low, high]
        while high - low > 1:
            middle = (low + high) // 2
            if _offset(datetime.fromtimestamp(middle, UTC), tz) == pieces[-1][1]:
                low = middle
            else:
                high = middle
        at = datetime.fromtimestamp(high, UTC)
        pieces.append((at, _offset(at, tz)))
    return pieces


def _offset(at: datetime, tz: ZoneInfo) -> int:
    offset = at.astimezone(tz).utcoffset()
    assert offset is not None
    return int(offset.total_seconds())


@dataclass(frozen=True)
class Zones:
    """A tenant's zones as rewards knows them: scope → IANA name, the tenant's under
    ``TENANT_SCOPE`` and each community's under its id."""

    names: Mapping[str, str] = field(default_factory=dict)

    def of(self, community_id: str | None) -> ZoneInfo:
        """The zone of a community's days; None (tenant-wide) or unknown: the tenant's,
        and the default for a tenant whose zone is unknown."""
        name = self.names.get(community_id) if community_id else None
        return zone(name or self.names.get(TENANT_SCOPE))

    def today(self, community_id: str | None, now: datetime) -> date:
        return local_day(now, self.of(community_id))
