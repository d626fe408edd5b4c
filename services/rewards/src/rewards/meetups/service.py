"""Meetup payments' use cases: a confirmed seat is charged (or refused), a cancelled one
refunded. Each runs in the transaction of the consumer that called it.

The wallet is locked first (``Ledger.open``), then the payment read: a member's charges
and refunds queue on their wallet, so a payment is decided once whatever arrives twice.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from rewards import events
from rewards.meetups import domain
from rewards.meetups.domain import PaymentState, Seat
from rewards.meetups.repository import PaymentRepository
from rewards.points.domain import Wallet
from rewards.points.ledger import Ledger
from servicekit.events import Event
from servicekit.outbox import add_event
from servicekit.types import utcnow

MEETUP_CONFIRMED = "quanzi.activities.meetup.confirmed.v1"
MEETUP_CANCELLED = "quanzi.activities.meetup.cancelled.v1"


def _text(event: Event, name: str) -> str:
    value = event.data.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{event.type} {event.id} has no {name}")
    return value


def _points(event: Event, name: str) -> int:
    value = event.data.get(name, 0)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{event.type} {event.id}: {name} is not a count of points")
    return value


def seat_of(event: Event) -> Seat:
    community = event.data.get("community_id")
    return Seat(
        registration_id=_text(event, "registration_id"),
        meetup_id=_text(event, "meetup_id"),
        member_id=_text(event, "member_id"),
        community_id=community if isinstance(community, str) else None,
        cost=_points(event, "cost_points"),
    )


async def charge_seat(session: AsyncSession, event: Event) -> None:
    """Debit a confirmed seat's cost once; a short balance refuses it (published for
    activities to free the seat). A free seat costs nothing and is not recorded."""
    seat = seat_of(event)
    if seat.cost == 0:
        return
    tenant_id = event.tenant_id
    ledger = Ledger(session)
    opened = await ledger.open(tenant_id, seat.member_id, create=False)
    repo = PaymentRepository(session)
    if await repo.get(tenant_id, seat.registration_id) is not None:
        return  # redelivered or republished: charged (or refused) already
    wallet = opened.wallet if opened else Wallet()  # no wallet: no points
    now = utcnow()
    payment, new = domain.charge(wallet, seat, now)
    if new:
        assert opened is not None  # a missing wallet has nothing to debit
        await ledger.save(opened, new)
    await repo.add(tenant_id, payment)
    if payment.state is PaymentState.REFUSED:
        refused = events.meetup_payment_refused(tenant_id, payment, wallet.available)
        await add_event(session, refused)


async def refund_seat(session: AsyncSession, event: Event) -> None:
    """Give back at most what the registration's seat was charged, once; nothing for a
    seat that was free, refused or refunded already."""
    asked = _points(event, "refund_points")
    if asked == 0:
        return
    tenant_id = event.tenant_id
    registration_id = _text(event, "registration_id")
    ledger = Ledger(session)
    opened = await ledger.open(tenant_id, _text(event, "member_id"), create=False)
    repo = PaymentRepository(session)
    payment = await repo.get(tenant_id, registration_id)
    if opened is None or payment is None or payment.member_id != opened.member_id:
        return  # never charged: nothing to give back
    lot_ids = [str(uuid.uuid4()) for _ in payment.allocations]
    done, new = domain.refund(opened.wallet, payment, asked, utcnow(), lot_ids)
    if not new:
        return
    if await repo.refunded(tenant_id, done):  # under the wallet's lock: always, once
        await ledger.save(opened, new)
