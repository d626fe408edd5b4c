"""Queries of the points mall: catalog items (and their stock) and redemptions. Scoped
by the tenant."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from rewards.mall.domain import ItemKind, ItemTerms, RedemptionStatus
from rewards.orm import catalog_items, redemptions
from rewards.points.domain import Allocation


@dataclass(frozen=True)
class ItemRow:
    id: str
    tenant_id: str
    name: str
    description: str
    kind: ItemKind
    cost: int
    stock: int
    per_member_limit: int | None
    min_level: int
    community_id: str | None
    active_from: datetime | None
    active_until: datetime | None
    archived: bool
    created_at: datetime
    updated_at: datetime

    def terms(self) -> ItemTerms:
        return ItemTerms(
            cost=self.cost,
            min_level=self.min_level,
            per_member_limit=self.per_member_limit,
            active_from=self.active_from,
            active_until=self.active_until,
            archived=self.archived,
        )


@dataclass(frozen=True)
class RedemptionRow:
    id: str
    tenant_id: str
    item_id: str
    member_id: str
    request_key: str
    item_name: str
    item_kind: ItemKind
    points: int
    allocations: tuple[Allocation, ...]
    status: RedemptionStatus
    community_id: str | None
    note: str | None
    reference: str | None
    cancel_reason: str | None
    closed_by: str | None
    created_at: datetime
    closed_at: datetime | None


# Where a keyset page starts: after (created_at, id) in the page's order.
After = tuple[datetime, str] | None


class MallRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # ------------------------------------------------------------- catalog

    async def insert_item(self, item: ItemRow) -> None:
        values = {name: getattr(item, name) for name in ItemRow.__dataclass_fields__}
        await self.session.execute(
            catalog_items.insert().values({**values, "kind": item.kind.value})
        )

    async def item(self, tenant_id: str, item_id: str, *, lock: bool = False) -> ItemRow | None:
        query = select(catalog_items).where(
            catalog_items.c.tenant_id == tenant_id, catalog_items.c.id == item_id
        )
        if lock:
            query = query.with_for_update()
        row = (await self.session.execute(query)).mappings().first()
        return _item_row(row) if row else None

    async def update_item(
        self, tenant_id: str, item_id: str, values: dict[str, Any]
    ) -> ItemRow | None:
        result = await self.session.execute(
            update(catalog_items)
            .where(catalog_items.c.tenant_id == tenant_id, catalog_items.c.id == item_id)
            .values(**values)
            .returning(*catalog_items.c)
        )
        row = result.mappings().first()
        return _item_row(row) if row else None

    async def items_page(
        self,
        tenant_id: str,
        *,
        after: After,
        limit: int,
        on_offer_at: datetime | None = None,
        community_id: str | None = None,
    ) -> list[ItemRow]:
        """Oldest first; with ``on_offer_at``, only what members may see then."""
        query = select(catalog_items).where(catalog_items.c.tenant_id == tenant_id)
        if on_offer_at is not None:
            query = query.where(
                catalog_items.c.archived.is_(False),
                or_(
                    catalog_items.c.active_from.is_(None),
                    catalog_items.c.active_from <= on_offer_at,
                ),
                or_(
                    catalog_items.c.active_until.is_(None),
                    catalog_items.c.active_until > on_offer_at,
                ),
            )
        if community_id is not None:  # the community's items and the tenant-wide ones
            query = query.where(
                or_(
                    catalog_items.c.community_id.is_(None),
                    catalog_items.c.community_id == community_id,
                )
            )
        if after is not None:
            query = query.where(_beyond(catalog_items.c.created_at, catalog_items.c.id, after))
        query = query.order_by(catalog_items.c.created_at, catalog_items.c.id).limit(limit + 1)
        return [_item_row(row) for row in (await self.session.execute(query)).mappings()]

    async def take_stock(self, tenant_id: str, item_id: str) -> ItemRow | None:
        """One unit, if any is left: the conditional UPDATE that makes overselling impossible.

        Concurrent takers queue on the row; each re-checks ``stock > 0`` on the
        version the previous one committed. Returns the item as locked, or None.
        """
        result = await self.session.execute(
            update(catalog_items)
            .where(
                catalog_items.c.tenant_id == tenant_id,
                catalog_items.c.id == item_id,
                catalog_items.c.stock > 0,
                catalog_items.c.archived.is_(False),
            )
            .values(stock=catalog_items.c.stock - 1)
            .returning(*catalog_items.c)
        )
        row = result.mappings().first()
        return _item_row(row) if row else None

    async def return_stock(self, tenant_id: str, item_id: str) -> None:
        await self.session.execute(
            update(catalog_items)
            .where(catalog_items.c.tenant_id == tenant_id, catalog_items.c.id == item_id)
            .values(stock=catalog_items.c.stock + 1)
        )

    # --------------------------------------------------------- redemptions

    async def redeemed_counts(
        self, tenant_id: str, member_id: str, item_ids: Sequence[str]
    ) -> dict[str, int]:
        """The member's redemptions per item that still hold (not cancelled)."""
        if not item_ids:
            return {}
        rows = await self.session.execute(
            select(redemptions.c.item_id, func.count())
            .where(
                redemptions.c.tenant_id == tenant_id,
                redemptions.c.member_id == member_id,
                redemptions.c.item_id.in_(list(item_ids)),
                redemptions.c.status != RedemptionStatus.CANCELLED.value,
            )
            .group_by(redemptions.c.item_id)
        )
        return {str(item_id): int(count) for item_id, count in rows}

    async def redemption_by_key(
        self, tenant_id: str, member_id: str, key: str
    ) -> RedemptionRow | None:
        query = select(redemptions).where(
            redemptions.c.tenant_id == tenant_id,
            redemptions.c.member_id == member_id,
            redemptions.c.request_key == key,
        )
        row = (await self.session.execute(query)).mappings().first()
        return _redemption_row(row) if row else None

    async def insert_redemption(self, redemption: RedemptionRow) -> None:
        values = {name: getattr(redemption, name) for name in RedemptionRow.__dataclass_fields__}
        values.update(
            item_kind=redemption.item_kind.value,
            status=redemption.status.value,
            allocations=[_allocation_json(a) for a in redemption.allocations],
        )
        await self.session.execute(redemptions.insert().values(**values))

    async def redemption(self, tenant_id: str, redemption_id: str) -> RedemptionRow | None:
        query = select(redemptions).where(
            redemptions.c.tenant_id == tenant_id, redemptions.c.id == redemption_id
        )
        row = (await self.session.execute(query)).mappings().first()
        return _redemption_row(row) if row else None

    async def close_redemption(
        self, tenant_id: str, redemption_id: str, values: dict[str, Any]
    ) -> RedemptionRow | None:
        """Move a requested redemption on; None when it was not requested any more (the
        UPDATE is conditional, so of a concurrent fulfil and cancel only one wins)."""
        result = await self.session.execute(
            update(redemptions)
            .where(
                redemptions.c.tenant_id == tenant_id,
                redemptions.c.id == redemption_id,
                redemptions.c.status == RedemptionStatus.REQUESTED.value,
            )
            .values(**values)
            .returning(*redemptions.c)
        )
        row = result.mappings().first()
        return _redemption_row(row) if row else None

    async def redemptions_page(
        self,
        tenant_id: str,
        *,
        after: After,
        limit: int,
        member_id: str | None = None,
        status: RedemptionStatus | None = None,
        item_id: str | None = None,
        newest_first: bool = False,
    ) -> list[RedemptionRow]:
        query = select(redemptions).where(redemptions.c.tenant_id == tenant_id)
        if member_id is not None:
            query = query.where(redemptions.c.member_id == member_id)
        if status is not None:
            query = query.where(redemptions.c.status == status.value)
        if item_id is not None:
            query = query.where(redemptions.c.item_id == item_id)
        if after is not None:
            query = query.where(
                _beyond(redemptions.c.created_at, redemptions.c.id, after, backwards=newest_first)
            )
        if newest_first:
            query = query.order_by(redemptions.c.created_at.desc(), redemptions.c.id.desc())
        else:
            query = query.order_by(redemptions.c.created_at, redemptions.c.id)
        rows = await self.session.execute(query.limit(limit + 1))
        return [_redemption_row(row) for row in rows.mappings()]


def _beyond(
    created_at: Any, row_id: Any, after: tuple[datetime, str], *, backwards: bool = False
) -> Any:
    """Keyset condition: rows strictly after ``after`` in (created_at, id) order, or before."""
    at, last_id = after
    if backwards:
        return or_(created_at < at, and_(created_at == at, row_id < last_id))
    return or_(created_at > at, and_(created_at == at, row_id > last_id))


def _item_row(row: Any) -> ItemRow:
    values = {name: row[name] for name in ItemRow.__dataclass_fields__}
    return ItemRow(**{**values, "kind": ItemKind(row["kind"])})


def _redemption_row(row: Any) -> RedemptionRow:
    values = {name: row[name] for name in RedemptionRow.__dataclass_fields__}
    values.update(
        item_kind=ItemKind(row["item_kind"]),
        status=RedemptionStatus(row["status"]),
        allocations=tuple(_allocation(raw) for raw in row["allocations"]),
    )
    return RedemptionRow(**values)


def _allocation_json(allocation: Allocation) -> dict[str, Any]:
    expires = allocation.expires_at.isoformat() if allocation.expires_at else None
    return {"lot_id": allocation.lot_id, "points": allocation.points, "expires_at": expires}


def _allocation(raw: dict[str, Any]) -> Allocation:
    expires = raw.get("expires_at")
    return Allocation(
        str(raw["lot_id"]),
        int(raw["points"]),
        datetime.fromisoformat(expires) if expires else None,
    )
