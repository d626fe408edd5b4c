"""Meetup seats paid in points, through the ``activities`` consumer's handlers: a confirmed
seat is debited once (redelivered or republished), a short balance refuses it (published
once, nothing debited), a cancellation gives back at most the charge, once, as a restore
that leaves lifetime points and the level alone; tenants never meet."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from rewards import app as rewards_app
from rewards.orm import entries, meetup_payments, wallets
from servicekit.events import Event
from servicekit.testing import contracts

if TYPE_CHECKING:
    from conftest import Ledger

TENANT = "t-acme"
T0 = datetime(2026, 12, 2, 0, tzinfo=UTC)
REFUSED = "quanzi.rewards.meetup_payment.refused.v1"


def _event(kind: str, member_id: str, data: dict[str, Any], tenant_id: str = TENANT) -> Event:
    event = Event(
        type=f"quanzi.activities.{kind}.v1",
        source="/activities",
        tenant_id=tenant_id,
        topic="activities.campaigns",
        key=member_id,
        time=T0,
        data={"tenant_id": tenant_id, "community_id": "c-1", "member_id": member_id, **data},
    )
    contracts().validate(event)  # what activities may publish
    return event


def prize(member_id: str, points: int, tenant_id: str = TENANT) -> Event:
    """Points to spend: a draw's points prize (available at once by the default rule)."""
    data = {
        "draw_id": "dr-1",
        "win_id": str(uuid.uuid4()),
        "round": 0,
        "prize_name": "积分",
        "prize_kind": "points",
        "points": points,
        "item_id": None,
        "claim_by": T0.isoformat(),
        "won_at": T0.isoformat(),
    }
    return _event("draw.won", member_id, data, tenant_id)


def confirmed(member_id: str, registration_id: str, cost: int, tenant_id: str = TENANT) -> Event:
    data = {
        "meetup_id": "mt-1",
        "registration_id": registration_id,
        "cost_points": cost,
        "confirmed_at": T0.isoformat(),
    }
    return _event("meetup.confirmed", member_id, data, tenant_id)


def cancelled(
    member_id: str, registration_id: str, refund: int, reason: str = "cancelled"
) -> Event:
    data = {
        "meetup_id": "mt-1",
        "registration_id": registration_id,
        "from_status": "confirmed",
        "reason": reason,
        "refund_points": refund,
        "cancelled_at": T0.isoformat(),
    }
    return _event("meetup.cancelled", member_id, data)


async def moves(ledger: Ledger, member_id: str) -> list[tuple[str, int, int]]:
    """(kind, available, lifetime) of the member's seat charges and refunds."""
    async with ledger.engine.connect() as connection:
        query = (
            select(entries.c.kind, entries.c.available_delta, entries.c.lifetime_delta)
            .join(wallets, wallets.c.id == entries.c.wallet_id)
            .where(
                wallets.c.tenant_id == TENANT,
                wallets.c.member_id == member_id,
                entries.c.idempotency_key.like("meetup-%"),
            )
            .order_by(entries.c.id)
        )
        rows = await connection.execute(query)
        return [(str(kind), int(available), int(lifetime)) for kind, available, lifetime in rows]


async def payment_states(ledger: Ledger) -> dict[str, str]:
    async with ledger.engine.connect() as connection:
        rows = await connection.execute(
            select(meetup_payments.c.registration_id, meetup_payments.c.state)
        )
        return {str(r): str(s) for r, s in rows}


def test_rewards_consumes_the_meetup_events_it_charges_and_refunds() -> None:
    handlers = rewards_app.ACTIVITIES.handlers
    assert {"quanzi.activities.meetup.confirmed.v1", "quanzi.activities.meetup.cancelled.v1"} <= (
        set(handlers)
    )
    assert "activities" in contracts().topics["rewards.points"].consumers


async def test_a_seat_is_charged_once_and_its_refund_given_back_once(ledger: Ledger) -> None:
    await ledger.deliver(prize("m-1", 100))
    before = await ledger.balances("m-1")
    seat = confirmed("m-1", "r-1", 40)
    await ledger.deliver(seat, seat)  # redelivered
    await ledger.deliver(replace(seat, id=str(uuid.uuid4())))  # republished: the same seat
    charged = await ledger.balances("m-1")
    assert charged is not None and charged["available"] == 60
    back = cancelled("m-1", "r-1", 500)  # asks more than was charged: gets the charge
    await ledger.deliver(back, back, replace(back, id=str(uuid.uuid4())))
    assert await moves(ledger, "m-1") == [("spend", -40, 0), ("restore", 40, 0)]
    assert await ledger.balances("m-1") == before  # lifetime and level untouched
    assert await ledger.published(REFUSED) == []
    assert await payment_states(ledger) == {"r-1": "refunded"}
    debited = await ledger.published("quanzi.rewards.points.debited.v1")
    assert [e.data["entry_key"] for e in debited] == ["meetup-seat:r-1"]
    await ledger.check_invariants()


async def test_a_short_balance_refuses_the_seat_once_and_refunds_nothing(ledger: Ledger) -> None:
    await ledger.deliver(prize("m-1", 20))
    seat = confirmed("m-1", "r-1", 50)
    await ledger.deliver(seat, seat)
    await ledger.deliver(confirmed("m-2", "r-2", 10))  # no wallet at all: no points
    refused = await ledger.published(REFUSED)  # validated against its contract
    assert [
        (e.key, e.data["registration_id"], e.data["cost_points"], e.data["available"])
        for e in refused
    ] == [("m-1", "r-1", 50, 20), ("m-2", "r-2", 10, 0)]
    # Activities frees the seat with nothing to refund; even a refund asked is not paid.
    await ledger.deliver(cancelled("m-1", "r-1", 50))
    assert await moves(ledger, "m-1") == []
    balances = await ledger.balances("m-1")
    assert balances is not None and balances["available"] == 20
    assert await ledger.balances("m-2") is None
    assert await payment_states(ledger) == {"r-1": "refused", "r-2": "refused"}
    await ledger.check_invariants()


async def test_a_free_seat_and_a_cancellation_never_charged_change_nothing(
    ledger: Ledger,
) -> None:
    await ledger.deliver(prize("m-1", 30))
    await ledger.deliver(confirmed("m-1", "r-1", 0), cancelled("m-1", "r-1", 0))
    await ledger.deliver(cancelled("m-1", "r-9", 30))  # a seat rewards never charged
    assert await moves(ledger, "m-1") == []
    assert await payment_states(ledger) == {}
    balances = await ledger.balances("m-1")
    assert balances is not None and balances["available"] == 30


async def test_tenants_never_meet(ledger: Ledger) -> None:
    other = "t-other"
    await ledger.deliver(prize("m-1", 100), prize("m-1", 100, other))
    await ledger.deliver(confirmed("m-1", "r-1", 40), confirmed("m-1", "r-1", 70, other))
    mine, theirs = await ledger.balances("m-1"), await ledger.balances("m-1", other)
    assert mine is not None and theirs is not None
    assert (mine["available"], theirs["available"]) == (60, 30)
    await ledger.deliver(cancelled("m-1", "r-1", 40))  # this tenant's seat only
    mine, theirs = await ledger.balances("m-1"), await ledger.balances("m-1", other)
    assert mine is not None and theirs is not None
    assert (mine["available"], theirs["available"]) == (100, 30)
    await ledger.check_invariants()
