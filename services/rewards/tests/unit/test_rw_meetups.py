"""Meetup seats paid in points: a charge is a spend of available points (refused, with
nothing debited, when they fall short); a refund restores at most what was charged, once,
without touching lifetime points."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rewards.meetups.domain import (
    REFUNDED_POINTS_MIN_LIFE,
    PaymentState,
    Seat,
    charge,
    given_back,
    refund,
    refund_due,
)
from rewards.points.domain import Allocation, Credit, EntryKind, Wallet

AT = datetime(2026, 12, 4, 8, tzinfo=UTC)


def seat(cost: int, registration_id: str = "r-1") -> Seat:
    return Seat(registration_id, "mt-1", "m-1", "c-1", cost)


def wallet_of(*lots: tuple[int, int | None]) -> Wallet:
    """Available lots of (points, days to expiry or None: never)."""
    wallet = Wallet()
    for i, (points, days) in enumerate(lots):
        expires = AT + timedelta(days=days) if days is not None else None
        earned = AT - timedelta(days=1)
        wallet.credit(Credit(f"k-{i}", f"lot-{i}", points, earned, earned, expires))
    return wallet


def fresh_ids(n: int = 8) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(n)]


def test_a_seat_is_a_spend_of_available_points_soonest_expiring_first() -> None:
    wallet = wallet_of((30, 10), (50, None))
    payment, new = charge(wallet, seat(40), AT)
    assert payment.state is PaymentState.CHARGED and payment.charged == 40
    [spend] = new
    assert spend.kind is EntryKind.SPEND and spend.available_delta == -40
    assert spend.key == "meetup-seat:r-1" and spend.lifetime_delta == 0
    assert [(a.lot_id, a.points) for a in payment.allocations] == [("lot-0", 30), ("lot-1", 10)]
    assert (wallet.available, wallet.lifetime) == (40, 80)
    wallet.check()


def test_a_short_balance_refuses_and_changes_nothing() -> None:
    wallet = wallet_of((30, 10))
    payment, new = charge(wallet, seat(31), AT)
    assert payment.state is PaymentState.REFUSED and payment.charged == 0 and new == []
    assert (wallet.available, wallet.lifetime) == (30, 30)
    refused, back = refund(wallet, payment, 31, AT, fresh_ids())
    assert back == [] and refused == payment  # nothing was charged: nothing comes back
    with pytest.raises(ValueError):
        charge(wallet, seat(0), AT)  # a free seat is never charged


def test_a_refund_restores_the_same_lots_expiries_with_a_minimum_life() -> None:
    wallet = wallet_of((30, 3), (50, None))
    payment, _ = charge(wallet, seat(40), AT)
    later = AT + timedelta(days=2)
    done, new = refund(wallet, payment, 40, later, fresh_ids())
    assert done.state is PaymentState.REFUNDED and done.refunded == 40
    restore = new[0]
    assert restore.kind is EntryKind.RESTORE and restore.key == "meetup-refund:r-1"
    assert (restore.available_delta, restore.lifetime_delta) == (40, 0)
    lives = sorted(
        (lot.points, lot.expires_at) for lot in wallet.lots.values() if lot.earned_at == later
    )
    # The soon-expiring lot's 30 points come back with at least the minimum life left.
    assert lives == [(10, None), (30, later + REFUNDED_POINTS_MIN_LIFE)]
    assert (wallet.available, wallet.lifetime) == (80, 80)
    wallet.check()


def test_a_refund_is_at_most_the_charge_and_a_part_refund_gives_the_latest_lots() -> None:
    charged, _ = charge(wallet_of((30, 3), (50, None)), seat(40), AT)
    assert refund_due(charged, 500) == 40
    assert refund_due(charged, 0) == 0
    allocations = (Allocation("a", 30, AT), Allocation("b", 10, None))
    assert given_back(allocations, 15) == (Allocation("a", 5, AT), Allocation("b", 10, None))
    assert given_back(allocations, 40) == allocations
    with pytest.raises(ValueError):
        given_back(allocations, 41)


lots = st.lists(
    st.tuples(st.integers(1, 200), st.one_of(st.none(), st.integers(1, 400))),
    min_size=0,
    max_size=6,
)


@settings(max_examples=200, deadline=None)
@given(lots=lots, cost=st.integers(1, 600), asks=st.lists(st.integers(0, 900), max_size=5))
def test_charge_then_any_redelivered_refunds_return_exactly_the_charge(
    lots: list[tuple[int, int | None]], cost: int, asks: list[int]
) -> None:
    """Whatever the lots, the cost and the refunds redelivered (each asking any amount up
    to the cost, the full cost first): the wallet ends where it started, never negative;
    lifetime points never move."""
    wallet = wallet_of(*lots)
    start = (wallet.available, wallet.lifetime)
    payment, new = charge(wallet, seat(cost), AT)
    assert wallet.available >= 0
    if start[0] < cost:
        assert payment.state is PaymentState.REFUSED and new == []
    else:
        assert payment.charged == cost and wallet.available == start[0] - cost
    given = 0
    for i, asked in enumerate([cost, *asks]):
        payment, back = refund(wallet, payment, asked, AT + timedelta(hours=i), fresh_ids())
        given += sum(entry.available_delta for entry in back if entry.kind is EntryKind.RESTORE)
        assert wallet.lifetime == start[1]
        wallet.check()
    assert given == payment.charged
    assert (wallet.available, wallet.lifetime) == start


@settings(max_examples=200, deadline=None)
@given(lots=lots, costs=st.lists(st.integers(1, 300), min_size=1, max_size=6))
def test_seats_charged_one_after_another_never_overdraw(
    lots: list[tuple[int, int | None]], costs: list[int]
) -> None:
    """A member confirmed for several seats: each is charged while points last, refused
    after; the balance never goes negative and spends exactly the charged seats."""
    wallet = wallet_of(*lots)
    start = wallet.available
    charged = 0
    for i, cost in enumerate(costs):
        before = wallet.available
        payment, _ = charge(wallet, seat(cost, f"r-{i}"), AT)
        assert (payment.state is PaymentState.CHARGED) == (cost <= before)
        charged += payment.charged
        assert wallet.available >= 0
    assert wallet.available == start - charged
    wallet.check()
