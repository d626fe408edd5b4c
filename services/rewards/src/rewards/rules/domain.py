"""Earning rules: an event type and conditions on its data → points for a member.

Rules are data (stored as JSON, versioned), so a new producer's events need new
rules, not new code. Paths are dotted keys into the event's data
(``source.inviter_id``). Periods for caps are calendar periods in the local days of the
community the award is in (the tenant's without one; ``rewards.zones``): weeks start on
Monday, and a day, week or month starts at that community's midnight. Expiry at the end
of a month or year is at the local midnight that starts the next one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from rewards.zones.domain import Zones, day_start, local_day

MAX_POINTS = 1_000_000  # per award: a typo in a rule must not mint a fortune
MAX_MULTIPLIER = Decimal(10)


class Op(StrEnum):
    EQ = "eq"
    NE = "ne"
    GTE = "gte"
    LTE = "lte"
    IN = "in"
    EXISTS = "exists"  # present and not null


class ExpiryKind(StrEnum):
    NEVER = "never"
    AFTER_DAYS = "after_days"
    END_OF_MONTH = "end_of_month"
    END_OF_YEAR = "end_of_year"


def lookup(data: dict[str, Any], path: str) -> Any:
    value: Any = data
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


@dataclass(frozen=True)
class Condition:
    path: str
    op: Op
    value: Any = None

    def holds(self, data: dict[str, Any]) -> bool:
        found = lookup(data, self.path)
        if self.op is Op.EXISTS:
            return found is not None and found != ""
        if self.op is Op.EQ:
            return bool(found == self.value)
        if self.op is Op.NE:
            return bool(found != self.value)
        if self.op is Op.IN:
            return isinstance(self.value, list) and found in self.value
        if not _number(found) or not _number(self.value):
            return False
        return bool(found >= self.value if self.op is Op.GTE else found <= self.value)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class Caps:
    """Most points one member may earn from the rule per calendar period (None: no cap)."""

    per_day: int | None = None
    per_week: int | None = None
    per_month: int | None = None


@dataclass(frozen=True)
class EarnedSoFar:
    """What the member already earned from the rule in the periods containing ``at``."""

    day: int = 0
    week: int = 0
    month: int = 0


@dataclass(frozen=True)
class Periods:
    day: datetime
    week: datetime
    month: datetime

    @classmethod
    def containing(cls, at: datetime, tz: ZoneInfo) -> Periods:
        """The first instants of the local day, week and month containing ``at``."""
        day = local_day(at, tz)
        return cls(
            day=day_start(day, tz),
            week=day_start(day - timedelta(days=day.weekday()), tz),
            month=day_start(day.replace(day=1), tz),
        )


def earned_so_far(
    earned: Iterable[tuple[datetime, int]], at: datetime, tz: ZoneInfo
) -> EarnedSoFar:
    """Sum (time, points) earnings into the local day, week and month containing ``at``."""
    periods = Periods.containing(at, tz)
    day = week = month = 0
    for when, points in earned:
        day += points if when >= periods.day else 0
        week += points if when >= periods.week else 0
        month += points if when >= periods.month else 0
    return EarnedSoFar(day=day, week=week, month=month)


def capped(points: int, caps: Caps, earned: EarnedSoFar) -> int:
    """The points still allowed under every cap (0 when a cap is reached)."""
    allowed = points
    for cap, used in (
        (caps.per_day, earned.day),
        (caps.per_week, earned.week),
        (caps.per_month, earned.month),
    ):
        if cap is not None:
            allowed = min(allowed, cap - used)
    return max(allowed, 0)


@dataclass(frozen=True)
class Expiry:
    kind: ExpiryKind = ExpiryKind.NEVER
    days: int | None = None

    def expires_at(self, earned_at: datetime, tz: ZoneInfo) -> datetime | None:
        """``after_days``: N × 24 h later; the end of a month or year: the local midnight
        starting the next one in ``tz``."""
        at = earned_at.astimezone(UTC)
        if self.kind is ExpiryKind.AFTER_DAYS:
            return at + timedelta(days=self.days or 0)
        day = local_day(at, tz)
        if self.kind is ExpiryKind.END_OF_MONTH:
            return day_start((day.replace(day=1) + timedelta(days=32)).replace(day=1), tz)
        if self.kind is ExpiryKind.END_OF_YEAR:
            return day_start(day.replace(year=day.year + 1, month=1, day=1), tz)
        return None


@dataclass(frozen=True)
class Multipliers:
    """Bonus factors by the member's level and by the event's ``tier``.

    ``by_level`` maps a level to a factor for members at that level or above; of the
    entries a member has reached the highest factor applies (not the latest level's,
    so a table that is not increasing never lowers a higher level). ``by_tier`` is
    an exact match on the event's ``tier``. The two multiply; factors are decimals
    (``1.15`` is exactly 1.15) at most 10. Level factors are bonuses (≥ 1: reaching a
    level never pays less); a tier factor may also reduce (e.g. trial 0.5).
    """

    by_level: Mapping[int, Decimal] = field(default_factory=dict)
    by_tier: Mapping[str, Decimal] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for factor in (*self.by_level.values(), *self.by_tier.values()):
            if not Decimal(0) < factor <= MAX_MULTIPLIER:
                raise ValueError(f"multipliers must be in (0, {MAX_MULTIPLIER}]")
        if any(level < 1 for level in self.by_level):
            raise ValueError("multiplier levels start at 1")
        if any(factor < 1 for factor in self.by_level.values()):
            raise ValueError("level multipliers are at least 1")

    def factor(self, level: int, tier: str | None) -> Decimal:
        reached = [f for at, f in self.by_level.items() if at <= level]
        by_level = max(reached, default=Decimal(1))
        by_tier = self.by_tier.get(tier, Decimal(1)) if tier is not None else Decimal(1)
        return by_level * by_tier

    def to_dict(self) -> dict[str, dict[str, str]]:
        """JSON-safe: decimals as strings, so 1.15 stays 1.15 in storage."""
        return {
            "by_level": {str(k): str(v) for k, v in sorted(self.by_level.items())},
            "by_tier": {k: str(v) for k, v in sorted(self.by_tier.items())},
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> Multipliers:
        raw = raw or {}
        if not isinstance(raw, Mapping) or not all(
            isinstance(raw.get(name) or {}, Mapping) for name in ("by_level", "by_tier")
        ):
            raise ValueError("multipliers are {by_level: {level: factor}, by_tier: {tier: factor}}")
        return cls(
            by_level={int(k): _decimal(v) for k, v in (raw.get("by_level") or {}).items()},
            by_tier={str(k): _decimal(v) for k, v in (raw.get("by_tier") or {}).items()},
        )


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError("a multiplier is a number")
    try:
        found = Decimal(str(value))
    except InvalidOperation as error:
        raise ValueError("a multiplier is a number") from error
    if not found.is_finite():
        raise ValueError("a multiplier is a finite number")
    return found


def multiplied(points: int, factor: Decimal) -> int:
    """Points × factor, rounded down to whole points, at most ``MAX_POINTS``."""
    return min(int((points * factor).to_integral_value(rounding=ROUND_FLOOR)), MAX_POINTS)


@dataclass(frozen=True)
class Award:
    """What a rule grants for one event, before caps."""

    rule_id: str
    rule_version: int
    member_id: str
    points: int
    community_id: str | None
    available_at: datetime | None  # None: held until its membership is paid
    expires_at: datetime | None
    cause: str | None


@dataclass(frozen=True)
class EarningRule:
    rule_id: str
    version: int
    event_type: str
    points: int
    beneficiary: str = "member_id"  # path of the member to credit
    per_unit: str | None = None  # path of a count: points × that count
    conditions: tuple[Condition, ...] = ()
    caps: Caps = field(default_factory=Caps)
    pending_days: int = 0
    pending_until: str | None = None  # path of a timestamp; the later of the two wins
    expiry: Expiry = field(default_factory=Expiry)
    community_id: str | None = None  # None: every community of the tenant
    cause: str | None = None  # path whose reversal undoes the award, e.g. membership_id
    # Path that makes the award once-only: a membership activated again (trial → paid)
    # must not pay its join bonus twice. None: once per event.
    once_per: str | None = None
    active_from: datetime | None = None
    active_until: datetime | None = None
    multipliers: Multipliers = field(default_factory=Multipliers)

    def __post_init__(self) -> None:
        if not self.rule_id or self.version < 1:
            raise ValueError("a rule needs an id and a version ≥ 1")
        if not 0 < self.points <= MAX_POINTS:
            raise ValueError(f"points must be 1..{MAX_POINTS}")
        if self.pending_days < 0:
            raise ValueError("pending_days cannot be negative")
        if self.expiry.kind is ExpiryKind.AFTER_DAYS and not (self.expiry.days or 0) > 0:
            raise ValueError("after_days expiry needs days > 0")
        for cap in (self.caps.per_day, self.caps.per_week, self.caps.per_month):
            if cap is not None and cap < 1:
                raise ValueError("caps must be positive")

    def award(
        self, event_type: str, data: dict[str, Any], at: datetime, zones: Zones
    ) -> Award | None:
        """The award for an event, or None when the rule does not apply. Its expiry at the
        end of a month or year is in the local days of the event's community."""
        if event_type != self.event_type or not self._active(at):
            return None
        community = lookup(data, "community_id")
        if self.community_id is not None and community != self.community_id:
            return None
        member = lookup(data, self.beneficiary)
        if not isinstance(member, str) or not member:
            return None
        if not all(condition.holds(data) for condition in self.conditions):
            return None
        points = self._points(data)
        if points <= 0:
            return None
        return Award(
            rule_id=self.rule_id,
            rule_version=self.version,
            member_id=member,
            points=points,
            community_id=community if isinstance(community, str) else None,
            available_at=self._available_at(data, at),
            expires_at=self.expiry.expires_at(at, zones.of(self.day_scope(data))),
            cause=self.cause_of(data),
        )

    def day_scope(self, data: dict[str, Any]) -> str | None:
        """The community whose days count for this rule and event (caps, expiry): the
        event's, else the rule's; None: the tenant's days."""
        community = lookup(data, "community_id")
        return community if isinstance(community, str) and community else self.community_id

    def boosted(self, points: int, level: int, data: dict[str, Any]) -> int:
        """An award's points with the multipliers for the member's level and the event's
        tier; applied before caps, so caps still bound what is credited."""
        tier = lookup(data, "tier")
        factor = self.multipliers.factor(level, tier if isinstance(tier, str) else None)
        return points if factor == 1 else multiplied(points, factor)

    def award_key(self, event_id: str, data: dict[str, Any]) -> str:
        """The ledger's idempotency key: redelivery and replay land on the same key."""
        if self.once_per is not None:
            value = lookup(data, self.once_per)
            if value is not None:
                return f"{self.rule_id}:{cause_key(self.once_per, str(value))}"
        return f"{event_id}:{self.rule_id}"

    def cause_of(self, data: dict[str, Any]) -> str | None:
        if self.cause is None:
            return None
        value = lookup(data, self.cause)
        return cause_key(self.cause, str(value)) if value is not None else None

    def _active(self, at: datetime) -> bool:
        if self.active_from is not None and at < self.active_from:
            return False
        return self.active_until is None or at < self.active_until

    def _points(self, data: dict[str, Any]) -> int:
        if self.per_unit is None:
            return self.points
        units = lookup(data, self.per_unit)
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            return 0
        return min(self.points * units, MAX_POINTS)

    def _available_at(self, data: dict[str, Any], at: datetime) -> datetime:
        available = at + timedelta(days=self.pending_days)
        if self.pending_until is not None:
            until = as_timestamp(lookup(data, self.pending_until))
            if until is not None and until > available:
                available = until
        return available

    def to_dict(self) -> dict[str, Any]:
        raw = asdict(self)
        for name in ("active_from", "active_until"):
            raw[name] = raw[name].isoformat() if raw[name] else None
        raw["multipliers"] = self.multipliers.to_dict()
        return raw

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> EarningRule:
        """Parse a stored or submitted rule; raises ValueError (or TypeError) when malformed."""
        values = dict(raw)
        values["conditions"] = tuple(
            Condition(str(c["path"]), Op(c["op"]), c.get("value"))
            for c in values.get("conditions") or ()
        )
        values["caps"] = Caps(**(values.get("caps") or {}))
        expiry = values.get("expiry") or {}
        values["expiry"] = Expiry(ExpiryKind(expiry.get("kind", "never")), expiry.get("days"))
        for name in ("active_from", "active_until"):
            values[name] = as_timestamp(values.get(name))
        values["multipliers"] = Multipliers.from_dict(values.get("multipliers"))
        return cls(**values)


def cause_key(path: str, value: str) -> str:
    """How lots remember their cause: ``membership_id=m-1``."""
    return f"{path}={value}"


def as_timestamp(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
