"""The expiry announcement timer: ``points.will_expire`` for a wallet's day of expiry."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from rewards import events
from rewards.notices.repository import NoticeRepository
from rewards.points.handlers import as_of
from rewards.points.repository import PointsRepository
from rewards.zones.domain import day_bounds, zone
from servicekit import timers
from servicekit.outbox import add_event
from servicekit.types import utcnow


async def announce_due(session: AsyncSession, timer: timers.Timer) -> None:
    """``points.will_expire`` for the member's lots expiring on the timer's day that
    still hold points and were not announced: spent, expired and reversed lots say
    nothing, and a lot is announced once however often the timer fires."""
    notices = NoticeRepository(session)
    wallet_id = int(timer.payload["wallet_id"])
    wallet = await PointsRepository(session).wallet_by_id(wallet_id)  # locked: spends wait
    # The local day it was armed for, in that zone (timers armed before zones: UTC days).
    day = date.fromisoformat(timer.payload["day"])
    first, end = day_bounds(day, zone(timer.payload.get("zone", "UTC")))
    found = await notices.lots_to_announce(wallet.id, first, end, as_of(timer))
    if not found:
        return
    now = utcnow()
    await notices.mark_announced(wallet.tenant_id, [lot.id for lot in found], now)
    await add_event(
        session, events.will_expire(wallet.tenant_id, wallet.member_id, day, found, now)
    )
