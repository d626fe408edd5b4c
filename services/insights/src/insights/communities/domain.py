"""Communities as insights knows them: the zone whose midnights start their days, their
silence settings, and who may read their figures. Pure, no I/O.

A community's day runs from its local midnight to the next in its IANA zone (23 or 25
hours when the clocks change). A community insights has not heard of counts in
Asia/Shanghai, onboarding's default; its facts move to their right days when its zone
arrives (``communities.service.rezone``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

DEFAULT_ZONE = "Asia/Shanghai"
# Who sees the whole tenant's figures (access tokens), and which community roles
# (granted by onboarding, held with a member token) see their own communities'.
TENANT_ROLES = ("owner", "admin")
COMMUNITY_ADMIN_ROLES = frozenset({"owner", "admin"})


@lru_cache(maxsize=512)
def zone(name: str | None) -> ZoneInfo:
    """The zone of an IANA name; an unknown or missing name is the default."""
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
    """The calendar day the instant ``at`` falls on in ``tz``."""
    return at.astimezone(tz).date()


def day_start(day: date, tz: ZoneInfo) -> datetime:
    """The first instant of ``day`` in ``tz``, in UTC (a skipped midnight resolves to the
    instant of the change)."""
    return datetime.combine(day, time(), tz).astimezone(UTC)


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    return day_start(day, tz), day_start(day + timedelta(days=1), tz)


@dataclass(frozen=True)
class CommunitySettings:
    silent_after_days: int = 14
    holdout_percent: int = 10


DEFAULTS = CommunitySettings()


def effective(
    silent_after_days: int | None,
    holdout_percent: int | None,
    defaults: CommunitySettings = DEFAULTS,
) -> CommunitySettings:
    """A community's own settings where it has them, the service's elsewhere."""
    return CommunitySettings(
        silent_after_days if silent_after_days is not None else defaults.silent_after_days,
        holdout_percent if holdout_percent is not None else defaults.holdout_percent,
    )


@dataclass(frozen=True)
class Grant:
    """A community role as onboarding's last event about it says."""

    community_id: str
    member_id: str
    role: str
    active: bool
    at: datetime


def supersedes(new_at: datetime, known_at: datetime | None) -> bool:
    """Ties go to the later arrival (onboarding keys by member, so that is its order)."""
    return known_at is None or new_at >= known_at


def fold_grant(known: Grant | None, fact: Grant) -> Grant:
    return fact if known is None or supersedes(fact.at, known.at) else known


def administered(grants: list[Grant]) -> frozenset[str]:
    """The communities whose figures a member holding ``grants`` may read."""
    return frozenset(
        grant.community_id
        for grant in grants
        if grant.active and grant.role in COMMUNITY_ADMIN_ROLES
    )
