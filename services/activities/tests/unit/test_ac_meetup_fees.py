"""A seat whose cost rewards refused: only a seat still confirmed is freed, and an unpaid
registration holds no seat, cannot cancel and gets nothing back."""

from __future__ import annotations

from activities.meetups.domain import (
    CANCELLABLE,
    HOLDS_SEAT,
    Status,
    refund_on_cancel,
    unpaid_frees_seat,
)


def test_only_a_confirmed_seat_is_freed_by_a_refused_payment() -> None:
    assert [s for s in Status if unpaid_frees_seat(s)] == [Status.CONFIRMED]


def test_an_unpaid_registration_holds_nothing_and_gets_nothing_back() -> None:
    assert Status.UNPAID not in HOLDS_SEAT and Status.UNPAID not in CANCELLABLE
    assert refund_on_cancel(Status.UNPAID, 30) == 0
