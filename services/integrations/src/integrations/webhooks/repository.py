"""Queries of webhook endpoints, deliveries and attempts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.orm import webhook_attempts, webhook_deliveries, webhook_endpoints
from servicekit.db import dialect_insert, insert_many
from servicekit.tables import timers

OPEN = ("pending", "waiting", "sending")  # a message not finished yet


class EndpointRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: dict[str, Any]) -> None:
        await self.session.execute(sa.insert(webhook_endpoints), row)

    async def get(self, tenant_id: str, endpoint_id: str, *, lock: bool = False) -> Any:
        query = sa.select(webhook_endpoints).where(
            webhook_endpoints.c.tenant_id == tenant_id, webhook_endpoints.c.id == endpoint_id
        )
        if lock:
            query = query.with_for_update()
        return (await self.session.execute(query)).first()

    async def page(
        self, tenant_id: str, after: tuple[datetime, str] | None, limit: int
    ) -> list[Any]:
        query = sa.select(webhook_endpoints).where(webhook_endpoints.c.tenant_id == tenant_id)
        if after is not None:
            query = query.where(
                sa.tuple_(webhook_endpoints.c.created_at, webhook_endpoints.c.id) > after
            )
        query = query.order_by(webhook_endpoints.c.created_at, webhook_endpoints.c.id)
        return list((await self.session.execute(query.limit(limit + 1))).all())

    async def enabled_of(self, tenant_ids: Sequence[str]) -> list[Any]:
        query = sa.select(webhook_endpoints).where(
            webhook_endpoints.c.tenant_id.in_(sorted(set(tenant_ids))),
            webhook_endpoints.c.enabled.is_(True),
        )
        return list((await self.session.execute(query)).all())

    async def update(self, tenant_id: str, endpoint_id: str, **values: Any) -> None:
        await self.session.execute(
            sa.update(webhook_endpoints)
            .where(
                webhook_endpoints.c.tenant_id == tenant_id, webhook_endpoints.c.id == endpoint_id
            )
            .values(**values)
        )

    async def lock_next_send(self, endpoint_ids: Sequence[str]) -> dict[str, datetime | None]:
        """The next free instant of each rate-limited endpoint, its row locked (in id order:
        no deadlock between two fan-outs) until the caller's transaction ends."""
        if not endpoint_ids:
            return {}
        query = (
            sa.select(webhook_endpoints.c.id, webhook_endpoints.c.next_send_at)
            .where(webhook_endpoints.c.id.in_(sorted(endpoint_ids)))
            .order_by(webhook_endpoints.c.id)
            .with_for_update()
        )
        return {row.id: row.next_send_at for row in await self.session.execute(query)}

    async def set_next_send(self, endpoint_id: str, at: datetime | None) -> None:
        await self.session.execute(
            sa.update(webhook_endpoints)
            .where(webhook_endpoints.c.id == endpoint_id)
            .values(next_send_at=at)
        )

    async def recovered(self, tenant_id: str, endpoint_id: str) -> None:
        """A success: the endpoint is healthy again (no write when it was already)."""
        await self.session.execute(
            sa.update(webhook_endpoints)
            .where(
                webhook_endpoints.c.tenant_id == tenant_id,
                webhook_endpoints.c.id == endpoint_id,
                webhook_endpoints.c.failing_since.is_not(None),
            )
            .values(failing_since=None)
        )

    async def recovered_many(self, endpoint_ids: set[str]) -> None:
        await self.session.execute(
            sa.update(webhook_endpoints)
            .where(
                webhook_endpoints.c.id.in_(sorted(endpoint_ids)),
                webhook_endpoints.c.failing_since.is_not(None),
            )
            .values(failing_since=None)
        )

    async def delete(self, tenant_id: str, endpoint_id: str) -> None:
        for table in (webhook_attempts, webhook_deliveries):
            await self.session.execute(
                sa.delete(table).where(
                    table.c.tenant_id == tenant_id, table.c.endpoint_id == endpoint_id
                )
            )
        await self.session.execute(
            sa.delete(webhook_endpoints).where(
                webhook_endpoints.c.tenant_id == tenant_id, webhook_endpoints.c.id == endpoint_id
            )
        )


class DeliveryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_many(self, rows: list[dict[str, Any]]) -> list[Any]:
        """``(id, status, endpoint_id, message_id)`` of the rows inserted (a message already
        made for an endpoint is skipped: an event redelivered makes nothing twice)."""
        if not rows:
            return []
        statement = (
            dialect_insert(self.session, webhook_deliveries)
            .on_conflict_do_nothing()
            .returning(
                webhook_deliveries.c.id,
                webhook_deliveries.c.status,
                webhook_deliveries.c.endpoint_id,
                webhook_deliveries.c.message_id,
            )
        )
        return list((await self.session.execute(statement, rows)).all())

    async def by_message(self, endpoint_id: str, message_id: str) -> Any:
        query = sa.select(webhook_deliveries).where(
            webhook_deliveries.c.endpoint_id == endpoint_id,
            webhook_deliveries.c.message_id == message_id,
        )
        return (await self.session.execute(query)).first()

    async def get(self, delivery_id: int, *, lock: bool = False) -> Any:
        query = sa.select(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id)
        if lock:
            query = query.with_for_update()
        return (await self.session.execute(query)).first()

    async def get_many(self, delivery_ids: Sequence[int], *, lock: bool = False) -> list[Any]:
        query = sa.select(webhook_deliveries).where(
            webhook_deliveries.c.id.in_(sorted(set(delivery_ids)))
        )
        if lock:
            query = query.with_for_update()
        return list((await self.session.execute(query.order_by(webhook_deliveries.c.id))).all())

    async def add_attempts(self, rows: list[dict[str, Any]]) -> None:
        await insert_many(self.session, webhook_attempts, rows)

    async def cancel_timers(self, kind: str, keys: list[str]) -> None:
        await self.session.execute(
            sa.delete(timers).where(timers.c.kind == kind, timers.c.key.in_(sorted(keys)))
        )

    async def finish_many(
        self, delivery_ids: list[int], status: str, now: datetime, status_code: int
    ) -> None:
        await self.session.execute(
            sa.update(webhook_deliveries)
            .where(webhook_deliveries.c.id.in_(sorted(delivery_ids)))
            .values(
                status=status, finished_at=now, next_attempt_at=None, last_status_code=status_code
            )
        )

    async def next_waiting_many(self, pairs: set[tuple[str, str]]) -> list[int]:
        """For each (endpoint, member), the oldest waiting message."""
        if not pairs:
            return []
        query = (
            sa.select(
                webhook_deliveries.c.endpoint_id,
                webhook_deliveries.c.order_key,
                sa.func.min(webhook_deliveries.c.id).label("id"),
            )
            .where(
                webhook_deliveries.c.endpoint_id.in_(sorted({e for e, _ in pairs})),
                webhook_deliveries.c.order_key.in_(sorted({k for _, k in pairs})),
                webhook_deliveries.c.status == "waiting",
            )
            .group_by(webhook_deliveries.c.endpoint_id, webhook_deliveries.c.order_key)
        )
        rows = (await self.session.execute(query)).all()
        return sorted(int(r.id) for r in rows if (r.endpoint_id, r.order_key) in pairs)

    async def release(self, delivery_ids: list[int], now: datetime) -> None:
        await self.session.execute(
            sa.update(webhook_deliveries)
            .where(webhook_deliveries.c.id.in_(delivery_ids))
            .values(status="pending", next_attempt_at=now)
        )

    async def of_tenant(self, tenant_id: str, endpoint_id: str, delivery_id: int) -> Any:
        query = sa.select(webhook_deliveries).where(
            webhook_deliveries.c.tenant_id == tenant_id,
            webhook_deliveries.c.endpoint_id == endpoint_id,
            webhook_deliveries.c.id == delivery_id,
        )
        return (await self.session.execute(query)).first()

    async def page(
        self,
        tenant_id: str,
        endpoint_id: str,
        before: int | None,
        limit: int,
        status: str | None,
    ) -> list[Any]:
        """Newest first."""
        query = sa.select(webhook_deliveries).where(
            webhook_deliveries.c.tenant_id == tenant_id,
            webhook_deliveries.c.endpoint_id == endpoint_id,
        )
        if before is not None:
            query = query.where(webhook_deliveries.c.id < before)
        if status is not None:
            query = query.where(webhook_deliveries.c.status == status)
        query = query.order_by(webhook_deliveries.c.id.desc()).limit(limit + 1)
        return list((await self.session.execute(query)).all())

    async def open_order_keys(
        self, endpoint_ids: Sequence[str], keys: Sequence[str]
    ) -> set[tuple[str, str]]:
        """(endpoint, order key) pairs with an unfinished message: a new one waits behind."""
        if not endpoint_ids or not keys:
            return set()
        query = (
            sa.select(webhook_deliveries.c.endpoint_id, webhook_deliveries.c.order_key)
            .where(
                webhook_deliveries.c.endpoint_id.in_(sorted(set(endpoint_ids))),
                webhook_deliveries.c.order_key.in_(sorted(set(keys))),
                webhook_deliveries.c.status.in_(OPEN),
            )
            .distinct()
        )
        return {(row.endpoint_id, row.order_key) for row in await self.session.execute(query)}

    async def earlier_open(self, row: Any) -> bool:
        """Whether a message of the same member made before ``row`` is still unfinished."""
        if row.order_key is None:
            return False
        query = sa.select(sa.literal(1)).where(
            webhook_deliveries.c.endpoint_id == row.endpoint_id,
            webhook_deliveries.c.order_key == row.order_key,
            webhook_deliveries.c.status.in_(OPEN),
            webhook_deliveries.c.id < row.id,
        )
        return (await self.session.execute(query.limit(1))).first() is not None

    async def next_waiting(self, endpoint_id: str, order_key: str) -> int | None:
        query = (
            sa.select(webhook_deliveries.c.id)
            .where(
                webhook_deliveries.c.endpoint_id == endpoint_id,
                webhook_deliveries.c.order_key == order_key,
                webhook_deliveries.c.status == "waiting",
            )
            .order_by(webhook_deliveries.c.id)
            .limit(1)
        )
        found = (await self.session.execute(query)).scalar()
        return None if found is None else int(found)

    async def update(self, delivery_id: int, **values: Any) -> None:
        await self.session.execute(
            sa.update(webhook_deliveries)
            .where(webhook_deliveries.c.id == delivery_id)
            .values(**values)
        )

    async def failed_since(
        self, tenant_id: str, endpoint_id: str, since: datetime, limit: int
    ) -> list[Any]:
        """Failed messages made since ``since``, oldest first (what "recover" sends again)."""
        query = (
            sa.select(webhook_deliveries.c.id)
            .where(
                webhook_deliveries.c.tenant_id == tenant_id,
                webhook_deliveries.c.endpoint_id == endpoint_id,
                webhook_deliveries.c.created_at >= since,
                webhook_deliveries.c.status == "failed",
            )
            .order_by(webhook_deliveries.c.id)
            .limit(limit)
        )
        return list((await self.session.execute(query)).scalars())

    async def add_attempt(self, row: dict[str, Any]) -> None:
        await self.session.execute(sa.insert(webhook_attempts), row)

    async def attempts(self, delivery_id: int) -> list[Any]:
        query = (
            sa.select(webhook_attempts)
            .where(webhook_attempts.c.delivery_id == delivery_id)
            .order_by(webhook_attempts.c.id)
            .limit(100)
        )
        return list((await self.session.execute(query)).all())
