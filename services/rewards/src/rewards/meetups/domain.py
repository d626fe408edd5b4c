"""Meetup seats paid in points: what a confirmed seat charges and a cancellation gives back.

Activities confirms a seat without seeing the member's points, so the charge is decided
here, on the wallet as locked:

- **A seat is charged once** (``meetup.confirmed`` with ``cost_points`` > 0): a spend of
  the member's available points, like a redemption's (``Wallet.debit``: soonest-expiring
  lots first). The payment is keyed by the registration: a redelivered or republished
  confirmation finds it and charges nothing more.
- **A balance too short refuses the seat** (the wallet never goes negative): nothing is
  debited, the payment is recorded as refused (a redelivery refuses nothing again), and
  rewards publishes ``meetup_payment.refused`` for activities to free the seat.
- **A refund gives the spend back** (``meetup.cancelled`` with ``refund_points`` > 0):
  a restore of the points the charge took (``Wallet.restore``: the same lots' expiries,
  with at least ``REFUNDED_POINTS_MIN_LIFE`` left), never an earning: lifetime points,
  the level and leaderboards are unchanged. At most what was charged, once: a refused
  or already refunded payment gives nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from rewards.mall.domain import RESTORED_POINTS_MIN_LIFE
from rewards.points.domain import Allocation, Entry, InsufficientPoints, Wallet

# The mall's policy for points given back: a cancellation never costs the member points.
REFUNDED_POINTS_MIN_LIFE = RESTORED_POINTS_MIN_LIFE


class PaymentState(StrEnum):
    CHARGED = "charged"  # the seat's cost was debited
    REFUSED = "refused"  # too few available points: nothing debited
    REFUNDED = "refunded"  # the debit given back (all or part of it)


@dataclass(frozen=True)
class Seat:
    """What ``meetup.confirmed`` says: a registration's seat and what it costs."""

    registration_id: str
    meetup_id: str
    member_id: str
    community_id: str | None
    cost: int


@dataclass(frozen=True)
class Payment:
    registration_id: str
    meetup_id: str
    member_id: str
    community_id: str | None
    cost: int
    state: PaymentState
    charged: int  # points debited (0: refused)
    refunded: int
    allocations: tuple[Allocation, ...]  # the lots the charge took from
    charged_at: datetime
    refunded_at: datetime | None = None


def charge_key(registration_id: str) -> str:
    return f"meetup-seat:{registration_id}"


def refund_key(registration_id: str) -> str:
    return f"meetup-refund:{registration_id}"


def charge(wallet: Wallet, seat: Seat, at: datetime) -> tuple[Payment, list[Entry]]:
    """Debit the seat's cost, or refuse it (no entry, the wallet unchanged) when the
    member's available points fall short."""
    if seat.cost <= 0:
        raise ValueError("only a seat that costs points is charged")
    payment = Payment(
        registration_id=seat.registration_id,
        meetup_id=seat.meetup_id,
        member_id=seat.member_id,
        community_id=seat.community_id,
        cost=seat.cost,
        state=PaymentState.REFUSED,
        charged=0,
        refunded=0,
        allocations=(),
        charged_at=at,
    )
    try:
        new = wallet.debit(
            charge_key(seat.registration_id),
            seat.cost,
            at,
            reason="meetup seat",
            community_id=seat.community_id,
        )
    except InsufficientPoints:
        return payment, []
    allocations = tuple(a for entry in new for a in entry.allocations)
    charged = replace(
        payment, state=PaymentState.CHARGED, charged=seat.cost, allocations=allocations
    )
    return charged, new


def refund_due(payment: Payment, asked: int) -> int:
    """What a cancellation asking ``asked`` points back gets: at most the charge, once."""
    if payment.state is not PaymentState.CHARGED or asked <= 0:
        return 0
    return min(asked, payment.charged)


def given_back(allocations: Sequence[Allocation], points: int) -> tuple[Allocation, ...]:
    """The allocations a refund of ``points`` restores: the last lots the charge took
    (the latest-expiring) first, so a part refund gives the member the longest-lived
    points; whole allocations in charge order when it is the full charge."""
    kept: list[Allocation] = []
    left = points
    for allocation in reversed(allocations):
        if left == 0:
            break
        take = min(left, allocation.points)
        kept.append(replace(allocation, points=take))
        left -= take
    if left:
        raise ValueError("a refund larger than the charge")
    return tuple(reversed(kept))


def refund(
    wallet: Wallet, payment: Payment, asked: int, at: datetime, lot_ids: Sequence[str]
) -> tuple[Payment, list[Entry]]:
    """Give back what ``refund_due`` allows as new available lots (``Wallet.restore``);
    ``lot_ids``: at least one fresh id per allocation of the charge. Nothing for a
    refused or already refunded payment."""
    points = refund_due(payment, asked)
    if points == 0:
        return payment, []
    allocations = given_back(payment.allocations, points)
    new = wallet.restore(
        refund_key(payment.registration_id),
        allocations,
        list(lot_ids[: len(allocations)]),
        at,
        min_life=REFUNDED_POINTS_MIN_LIFE,
        reason="meetup seat cancelled: its cost given back",
        community_id=payment.community_id,
    )
    done = replace(payment, state=PaymentState.REFUNDED, refunded=points, refunded_at=at)
    return done, new
