"""Queries of expiry announcements: their timers (one per wallet and day of expiry), the
lots announced (``expiry_notices``) and the tenant's notice setting (``reward_settings``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, select
from sqlalchemy.ext.asyncio import AsyncSession

from rewards.orm import expiry_notices, lots, reward_settings
from rewards.points.domain import Lot, LotState
from rewards.points.repository import lot_of_row
from servicekit.db import dialect_insert, insert_many
from servicekit.tables import timers as timer_rows


class NoticeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # ------------------------------------------------------------- settings

    async def notice_days(self, tenant_id: str) -> int | None:
        """Days ahead to announce expiring points; None: the tenant kept the default."""
        return await self.session.scalar(
            select(reward_settings.c.expiry_notice_days).where(
                reward_settings.c.tenant_id == tenant_id
            )
        )

    async def save_notice_days(self, tenant_id: str, days: int, now: datetime) -> None:
        statement = dialect_insert(self.session, reward_settings)
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[reward_settings.c.tenant_id],
                set_={"expiry_notice_days": days, "updated_at": now},
            ),
            {"tenant_id": tenant_id, "expiry_notice_days": days, "updated_at": now},
        )

    # ------------------------------------------------ expiry announcements

    async def schedule_notices(self, due: Sequence[dict[str, Any]]) -> None:
        """Announcement timers, one per wallet and day of expiry. A pending one keeps
        the earlier due time; a fired one is re-armed for lots announced since (the
        lots already announced are never announced again: ``expiry_notices``)."""

        rows = sorted(due, key=lambda row: row["key"])
        await insert_many(self.session, timer_rows, rows, conflict=_rearm)

    async def lots_to_announce(
        self, wallet_id: int, first: datetime, end: datetime, as_of: datetime
    ) -> list[Lot]:
        """The wallet's lots expiring in ``[first, end)`` after ``as_of`` that still hold
        points and were not announced yet."""
        announced = select(expiry_notices.c.lot_id).where(expiry_notices.c.lot_id == lots.c.id)
        rows = await self.session.execute(
            select(lots)
            .where(
                lots.c.wallet_id == wallet_id,
                lots.c.expires_at >= first,
                lots.c.expires_at < end,
                lots.c.expires_at > as_of,
                lots.c.state != LotState.REVERSED.value,
                lots.c.remaining > 0,
                ~announced.exists(),
            )
            .order_by(lots.c.expires_at, lots.c.id)
        )
        return [lot_of_row(row) for row in rows.mappings()]

    async def mark_announced(self, tenant_id: str, lot_ids: Sequence[str], now: datetime) -> None:
        rows = [{"lot_id": i, "tenant_id": tenant_id, "announced_at": now} for i in lot_ids]
        if rows:
            await self.session.execute(expiry_notices.insert(), rows)


def _rearm(statement: Any) -> Any:
    """The conflict clause of ``schedule_notices`` (one function: built once)."""
    new = statement.excluded
    keep = and_(timer_rows.c.fired_at.is_(None), timer_rows.c.due_at <= new.due_at)
    return statement.on_conflict_do_update(
        index_elements=[timer_rows.c.kind, timer_rows.c.key],
        set_={
            "due_at": case((keep, timer_rows.c.due_at), else_=new.due_at),
            "payload": new.payload,
            "fired_at": None,
            "attempts": 0,
        },
    )
