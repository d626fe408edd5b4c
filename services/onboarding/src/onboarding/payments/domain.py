"""Paid terms: price, a fixed or rolling term, free trial days, a refund window."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo


class TermKind(StrEnum):
    ROLLING = "rolling"  # each payment buys `term_days` from the later of now and the current end
    FIXED = "fixed"  # every payment buys membership until the same date (a cohort, a season)


class TermOver(ValueError):
    """A fixed term that has already ended cannot be bought."""


@dataclass(frozen=True)
class PaidTerms:
    price_cents: int
    currency: str
    term_kind: TermKind
    term_days: int | None = None  # rolling terms
    fixed_ends_at: datetime | None = None  # fixed terms
    trial_days: int = 0
    refund_window_hours: int = 0

    def __post_init__(self) -> None:
        if self.price_cents <= 0:
            raise ValueError("a paid community has a positive price")
        if self.term_kind is TermKind.ROLLING and not (self.term_days and self.term_days > 0):
            raise ValueError("a rolling term needs term_days > 0")
        if self.term_kind is TermKind.FIXED and self.fixed_ends_at is None:
            raise ValueError("a fixed term needs fixed_ends_at")
        if self.trial_days < 0 or self.refund_window_hours < 0:
            raise ValueError("trial days and refund window cannot be negative")


@dataclass(frozen=True)
class PaidPeriod:
    term_ends_at: datetime
    refund_window_ends_at: datetime


def paid_period(terms: PaidTerms, paid_at: datetime, current_end: datetime | None) -> PaidPeriod:
    """What a payment at ``paid_at`` buys; ``current_end`` is the running term's end, if any.

    A renewal before the end extends from that end, so paying early never loses days.
    """
    if terms.term_kind is TermKind.FIXED:
        assert terms.fixed_ends_at is not None
        if terms.fixed_ends_at <= paid_at:
            raise TermOver(f"the term ended at {terms.fixed_ends_at.isoformat()}")
        ends = terms.fixed_ends_at
    else:
        assert terms.term_days is not None
        start = max(paid_at, current_end) if current_end else paid_at
        ends = start + timedelta(days=terms.term_days)
    return PaidPeriod(ends, paid_at + timedelta(hours=terms.refund_window_hours))


def trial_ends_at(terms: PaidTerms, started_at: datetime) -> datetime | None:
    """End of the free trial starting now, or None when the community offers none."""
    return started_at + timedelta(days=terms.trial_days) if terms.trial_days > 0 else None


def refund_allowed(refund_window_ends_at: datetime | None, now: datetime) -> bool:
    """Refunds revoke the membership only inside the window (the end itself is outside)."""
    return refund_window_ends_at is not None and now < refund_window_ends_at


DEFAULT_REMINDER_DAYS = (7, 1)  # renewal reminders, days before the term ends
UTC_ZONE = ZoneInfo("UTC")


def reminder_at(term_ends_at: datetime, days_before: int, zone: ZoneInfo) -> datetime:
    """When the reminder ``days_before`` a term's end is due: the same local time of day,
    that many calendar days earlier in the community's zone (a DST change in between
    moves it by an hour in UTC, not on the member's clock)."""
    local = term_ends_at.astimezone(zone)
    # Aware arithmetic within one tzinfo is wall-clock arithmetic; the offset is then
    # recomputed for the new date (fold=0 picks the first of a repeated hour).
    return (
        (local.replace(tzinfo=None) - timedelta(days=days_before))
        .replace(tzinfo=zone)
        .astimezone(UTC)
    )


def reminder_times(
    term_ends_at: datetime, days_before: Iterable[int], now: datetime, zone: ZoneInfo = UTC_ZONE
) -> list[int]:
    """The reminder offsets (days before the term ends) still ahead of ``now``, each once,
    largest first."""
    ahead = {d for d in days_before if d > 0 and reminder_at(term_ends_at, d, zone) > now}
    return sorted(ahead, reverse=True)
