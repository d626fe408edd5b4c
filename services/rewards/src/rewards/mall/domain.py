"""The points mall (积分商城): what may be redeemed, by whom, and how a redemption ends.

Stock is not decided here: it is taken by a conditional UPDATE in the database
(``stock = stock - 1 WHERE stock > 0``), the only place that sees every
concurrent redemption. Everything else a redemption depends on (the item's
window, the member's level, points and earlier redemptions) is checked here,
on values read while the member's wallet is locked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

# A cancelled redemption gives points back with at least this long left to use them.
RESTORED_POINTS_MIN_LIFE = timedelta(days=30)


class ItemKind(StrEnum):
    PHYSICAL = "physical"  # shipped: the member's note says where, the operator's reference how
    COUPON = "coupon"
    DIGITAL = "digital"
    PRIVILEGE = "privilege"


class RedemptionStatus(StrEnum):
    REQUESTED = "requested"  # points and stock reserved
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"  # points and stock given back


class Refusal(StrEnum):
    """Why a member may not redeem an item now; each is a 409 problem slug."""

    UNAVAILABLE = "item-unavailable"
    LEVEL_TOO_LOW = "level-too-low"
    LIMIT_REACHED = "redemption-limit-reached"
    INSUFFICIENT_POINTS = "insufficient-points"


@dataclass(frozen=True)
class ItemTerms:
    cost: int
    min_level: int = 1
    per_member_limit: int | None = None  # None: no limit
    active_from: datetime | None = None
    active_until: datetime | None = None  # exclusive
    archived: bool = False

    def on_offer(self, at: datetime) -> bool:
        if self.archived:
            return False
        if self.active_from is not None and at < self.active_from:
            return False
        return self.active_until is None or at < self.active_until

    def refusal(self, *, at: datetime, level: int, available: int, redeemed: int) -> Refusal | None:
        """The first reason to refuse, or None; ``redeemed`` counts the member's
        redemptions of the item that were not cancelled."""
        if not self.on_offer(at):
            return Refusal.UNAVAILABLE
        if level < self.min_level:
            return Refusal.LEVEL_TOO_LOW
        if self.per_member_limit is not None and redeemed >= self.per_member_limit:
            return Refusal.LIMIT_REACHED
        if available < self.cost:
            return Refusal.INSUFFICIENT_POINTS
        return None

    def left_for(self, redeemed: int) -> int | None:
        """How many more the member may redeem under the per-member limit (None: no limit)."""
        if self.per_member_limit is None:
            return None
        return max(self.per_member_limit - redeemed, 0)


def can_move(current: RedemptionStatus, to: RedemptionStatus) -> bool:
    """Only a requested redemption moves, and only once: to fulfilled or cancelled."""
    return current is RedemptionStatus.REQUESTED and to is not RedemptionStatus.REQUESTED


def valid_window(active_from: datetime | None, active_until: datetime | None) -> bool:
    return active_from is None or active_until is None or active_from < active_until
