"""Points' consumers: a refunded membership reverses what it credited; the release and
expiry timers of lots. Each runs inside the transaction its runner owns."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from rewards.points.ledger import Ledger
from rewards.points.service import reverse_cause
from rewards.rules.domain import MEMBERSHIP_REFUNDED, cause_key
from servicekit import timers
from servicekit.events import Event
from servicekit.types import utcnow


async def on_membership_refunded(session: AsyncSession, event: Event) -> None:
    membership_id = event.data.get("membership_id")
    if not isinstance(membership_id, str) or not membership_id:
        raise ValueError(f"{MEMBERSHIP_REFUNDED} {event.id} has no membership_id")
    await reverse_cause(
        session, event.tenant_id, cause_key("membership_id", membership_id), "membership refunded"
    )


# ------------------------------------------------------------------- timers


async def release_due(session: AsyncSession, timer: timers.Timer) -> None:
    ledger = Ledger(session)
    lot_id = str(timer.payload["lot_id"])
    opened = await ledger.open_by_id(int(timer.payload["wallet_id"]), [lot_id])
    await ledger.save(opened, opened.wallet.release(lot_id, as_of(timer)))


async def expire_due(session: AsyncSession, timer: timers.Timer) -> None:
    ledger = Ledger(session)
    lot_id = str(timer.payload["lot_id"])
    opened = await ledger.open_by_id(int(timer.payload["wallet_id"]), [lot_id])
    await ledger.save(opened, opened.wallet.expire(lot_id, as_of(timer)))


def as_of(timer: timers.Timer) -> datetime:
    """A timer acts as of its due time: a runner that claimed it is never "too early"."""
    return max(utcnow(), timer.due_at)
