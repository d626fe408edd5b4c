"""Queries of meetups and their registrations.

Every change of a meetup's seats starts with a statement on the meetup's row (the
conditional seat update, or ``lock``), so on PostgreSQL a meetup's seat changes happen
one at a time while the rest of the service runs in parallel; SQLite's single writer
serializes them anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from activities.meetups.domain import Status
from activities.orm import meetup_registrations as registrations
from activities.orm import meetups
from servicekit.db import insert_ignore

_M = meetups.c
_R = registrations.c


class MeetupRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: dict[str, Any]) -> None:
        await self.session.execute(sa.insert(meetups), row)

    async def get(self, tenant_id: str, meetup_id: str, *, lock: bool = False) -> Any:
        query = sa.select(meetups).where(_M.tenant_id == tenant_id, _M.id == meetup_id)
        if lock:
            query = query.with_for_update()
        return (await self.session.execute(query)).first()

    async def of_tenant(self, tenant_id: str, community_ids: list[str] | None) -> list[Any]:
        query = sa.select(meetups).where(_M.tenant_id == tenant_id)
        if community_ids is not None:
            query = query.where(_M.community_id.in_(community_ids))
        query = query.order_by(_M.starts_at.desc(), _M.id).limit(200)
        return list((await self.session.execute(query)).all())

    async def next_number(self, tenant_id: str, meetup_id: str, *, seat: bool) -> tuple[int, bool]:
        """Number a new registration and (``seat``: first come) take a seat while one is
        left, in one conditional update: ``(number, seated)``."""
        seated = _M.held < _M.capacity
        values: dict[str, Any] = {"seq": _M.seq + 1}
        if seat:
            values["held"] = sa.case((seated, _M.held + 1), else_=_M.held)
            values["last_seat"] = sa.case((seated, _M.seq + 1), else_=_M.last_seat)
        statement = (
            sa.update(meetups)
            .where(_M.tenant_id == tenant_id, _M.id == meetup_id)
            .values(**values)
            .returning(_M.seq, _M.last_seat)
        )
        row = (await self.session.execute(statement)).one()
        return int(row.seq), seat and row.last_seat == row.seq

    async def take_seat(self, tenant_id: str, meetup_id: str) -> bool:
        """One seat, if one is left (a review's approval)."""
        statement = (
            sa.update(meetups)
            .where(_M.tenant_id == tenant_id, _M.id == meetup_id, _M.held < _M.capacity)
            .values(held=_M.held + 1)
        )
        return bool((await self.session.execute(statement)).rowcount == 1)  # type: ignore[attr-defined]

    async def set_held(self, tenant_id: str, meetup_id: str, delta: int) -> None:
        await self.session.execute(
            sa.update(meetups)
            .where(_M.tenant_id == tenant_id, _M.id == meetup_id)
            .values(held=_M.held + delta)
        )

    async def mark(self, tenant_id: str, meetup_id: str, **values: Any) -> None:
        await self.session.execute(
            sa.update(meetups).where(_M.tenant_id == tenant_id, _M.id == meetup_id).values(**values)
        )

    # --- registrations ----------------------------------------------------------------

    async def add_registration(self, row: dict[str, Any]) -> bool:
        """False: the member is registered already (the unique key)."""
        return await insert_ignore(self.session, registrations, row)

    async def registration(self, tenant_id: str, meetup_id: str, **by: Any) -> Any:
        """By ``member_id``, ``id`` or ``number``."""
        query = sa.select(registrations).where(_R.tenant_id == tenant_id, _R.meetup_id == meetup_id)
        for name, value in by.items():
            query = query.where(_R[name] == value)
        return (await self.session.execute(query)).first()

    async def registrations(
        self, tenant_id: str, meetup_id: str, statuses: Sequence[Status] | None = None
    ) -> list[Any]:
        query = sa.select(registrations).where(_R.tenant_id == tenant_id, _R.meetup_id == meetup_id)
        if statuses is not None:
            query = query.where(_R.status.in_([s.value for s in statuses]))
        query = query.order_by(_R.number)
        return list((await self.session.execute(query)).all())

    async def head_of_waitlist(self, tenant_id: str, meetup_id: str) -> Any:
        query = (
            sa.select(registrations)
            .where(
                _R.tenant_id == tenant_id,
                _R.meetup_id == meetup_id,
                _R.status == Status.WAITLISTED.value,
            )
            .order_by(_R.queue_pos, _R.number)
            .limit(1)
        )
        return (await self.session.execute(query)).first()

    async def move(
        self, tenant_id: str, registration_id: str, from_status: Status, **values: Any
    ) -> bool:
        """Change a registration only if it still has ``from_status`` (True when it had)."""
        statement = (
            sa.update(registrations)
            .where(
                _R.tenant_id == tenant_id,
                _R.id == registration_id,
                _R.status == from_status.value,
            )
            .values(**values)
        )
        return bool((await self.session.execute(statement)).rowcount == 1)  # type: ignore[attr-defined]

    async def move_many(self, tenant_id: str, rows: list[dict[str, Any]]) -> None:
        """Set each ``{"rid", "status", "queue_pos", "changed_at", "paid_points"}``."""
        if not rows:
            return
        statement = (
            sa.update(registrations)
            .where(_R.tenant_id == tenant_id, _R.id == sa.bindparam("rid"))
            .values(
                status=sa.bindparam("new_status"),
                queue_pos=sa.bindparam("new_pos"),
                changed_at=sa.bindparam("at"),
                paid_points=sa.bindparam("paid"),
            )
        )
        await self.session.execute(statement, rows)

    async def counts(self, tenant_id: str, meetup_id: str) -> dict[str, int]:
        query = (
            sa.select(_R.status, sa.func.count())
            .where(_R.tenant_id == tenant_id, _R.meetup_id == meetup_id)
            .group_by(_R.status)
        )
        return {str(s): int(n) for s, n in (await self.session.execute(query)).all()}
