"""Queries of the rewards service. Every lookup is scoped by the tenant or by a wallet
that was itself found by tenant."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any

from sqlalchemy import and_, bindparam, case, func, literal, or_, select, text, tuple_, update
from sqlalchemy import types as sa_types
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from rewards.domain.leaderboard import SPANS, Period, Score, ScoreKey, window_days
from rewards.domain.ledger import Allocation, Entry, Lot, LotState
from rewards.domain.levels import LevelScheme
from rewards.domain.mall import ItemKind, ItemTerms, RedemptionStatus
from rewards.domain.rules import EarningRule
from rewards.orm import (
    catalog_items,
    earning_rules,
    entries,
    expiry_notices,
    level_schemes,
    lots,
    redemptions,
    reward_settings,
    rule_heads,
    score_days,
    score_totals,
    score_window_state,
    score_windows,
    tenants,
    wallets,
)
from servicekit.db import insert_ignore, insert_many, where_given
from servicekit.tables import timers as timer_rows
from servicekit.types import UtcDateTime


class ConcurrentUpdate(RuntimeError):
    """The wallet changed under us; the transaction must roll back and be retried."""


@dataclass(frozen=True)
class WalletRow:
    id: int
    tenant_id: str
    member_id: str
    available: int
    pending: int
    lifetime: int
    debt: int
    level: int
    version: int
    updated_at: datetime


@dataclass(frozen=True)
class Balances:
    available: int
    pending: int
    lifetime: int
    debt: int
    level: int


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


@dataclass(frozen=True)
class AdjustmentQuery:
    member_id: str | None = None
    actor_id: str | None = None
    community_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class Repository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # ---------------------------------------------------------------- tenants

    async def set_up_tenant(
        self, tenant_id: str, rules: Sequence[EarningRule], scheme: LevelScheme, now: datetime
    ) -> bool:
        """Write a tenant's defaults once; True when this call wrote them."""
        if not await insert_ignore(
            self.session, tenants, {"tenant_id": tenant_id, "set_up_at": now}
        ):
            return False
        for rule in rules:
            await self.insert_rule_version(tenant_id, rule, now)
            await self.insert_rule_head(tenant_id, rule, now, None)
        await insert_ignore(
            self.session,
            level_schemes,
            {
                "tenant_id": tenant_id,
                "thresholds": list(scheme.thresholds),
                "names": list(scheme.names),
                "updated_at": now,
            },
        )
        return True

    async def active_rules(self, tenant_id: str, event_type: str) -> list[EarningRule]:
        rows = await self.session.execute(
            select(earning_rules.c.definition)
            .where(
                earning_rules.c.tenant_id == tenant_id,
                earning_rules.c.event_type == event_type,
                earning_rules.c.active.is_(True),
            )
            .order_by(earning_rules.c.rule_id)
        )
        return [EarningRule.from_dict(definition) for (definition,) in rows]

    async def level_scheme(self, tenant_id: str) -> LevelScheme:
        row = (
            await self.session.execute(
                select(level_schemes).where(level_schemes.c.tenant_id == tenant_id)
            )
        ).first()
        if row is None:
            return LevelScheme()
        return LevelScheme(tuple(row.thresholds), tuple(row.names))

    # ---------------------------------------------------------------- wallets

    async def wallet(
        self, tenant_id: str, member_id: str, *, lock: bool = False
    ) -> WalletRow | None:
        query = select(wallets).where(
            wallets.c.tenant_id == tenant_id, wallets.c.member_id == member_id
        )
        if lock:
            query = query.with_for_update()  # PostgreSQL; SQLite's write lock is already held
        row = (await self.session.execute(query)).mappings().first()
        return _wallet_row(row) if row else None

    async def wallet_by_id(self, wallet_id: int) -> WalletRow:
        query = select(wallets).where(wallets.c.id == wallet_id).with_for_update()
        return _wallet_row((await self.session.execute(query)).mappings().one())

    async def create_wallet(self, tenant_id: str, member_id: str, now: datetime) -> None:
        values = {
            "tenant_id": tenant_id,
            "member_id": member_id,
            "available": 0,
            "pending": 0,
            "lifetime": 0,
            "debt": 0,
            "level": 1,
            "version": 0,
            "created_at": now,
            "updated_at": now,
        }
        await insert_ignore(self.session, wallets, values)  # a concurrent creator may win

    async def create_wallets(
        self, tenant_id: str, member_ids: Sequence[str], now: datetime
    ) -> None:
        """The missing ones, in one statement; existing wallets are left alone."""
        empty = {"available": 0, "pending": 0, "lifetime": 0, "debt": 0, "level": 1, "version": 0}
        rows = [
            {"tenant_id": tenant_id, "member_id": member_id, **empty}
            | {"created_at": now, "updated_at": now}
            for member_id in member_ids
        ]
        await insert_many(self.session, wallets, rows, conflict=_do_nothing)

    async def wallets_locked(self, tenant_id: str, member_ids: Sequence[str]) -> list[WalletRow]:
        """Locked in id order: two batches wanting the same wallets queue, never deadlock."""
        query = (
            select(wallets)
            .where(wallets.c.tenant_id == tenant_id, wallets.c.member_id.in_(list(member_ids)))
            .order_by(wallets.c.id)
            .with_for_update()
        )
        return [_wallet_row(row) for row in (await self.session.execute(query)).mappings()]

    async def save_wallets(
        self, changed: Sequence[tuple[WalletRow, Balances]], now: datetime
    ) -> None:
        """Each conditional on the version read: a concurrent writer makes this fail, not
        overwrite. One statement for any number of wallets."""
        if not changed:
            return
        if self.session.get_bind().dialect.name == "postgresql":
            updated = await self._save_wallets_unnest(changed, now)
        else:  # SQLite counts the rows an executemany changed
            result = await self.session.execute(
                update(wallets)
                .where(
                    wallets.c.id == bindparam("b_id"), wallets.c.version == bindparam("b_version")
                )
                .values(
                    available=bindparam("b_available"),
                    pending=bindparam("b_pending"),
                    lifetime=bindparam("b_lifetime"),
                    debt=bindparam("b_debt"),
                    level=bindparam("b_level"),
                    version=wallets.c.version + 1,
                    updated_at=now,
                ),
                [
                    {f"b_{k}": v for k, v in _wallet_update(row, after).items()}
                    for row, after in changed
                ],
            )
            updated = int(getattr(result, "rowcount", 0))
        if updated != len(changed):
            raise ConcurrentUpdate(f"{len(changed) - updated} wallet(s) changed concurrently")

    async def _save_wallets_unnest(
        self, changed: Sequence[tuple[WalletRow, Balances]], now: datetime
    ) -> int:
        """PostgreSQL: arrays in, the ids actually updated out (asyncpg cannot count the
        rows of an executemany)."""
        columns = ("id", "version", "available", "pending", "lifetime", "debt", "level")
        values = [_wallet_update(row, after) for row, after in changed]
        arrays = {name: [value[name] for value in values] for name in columns}
        statement = text(
            "UPDATE wallets SET available = v.available, pending = v.pending,"
            " lifetime = v.lifetime, debt = v.debt, level = v.level,"
            " version = wallets.version + 1, updated_at = :now"
            " FROM unnest(CAST(:id AS bigint[]), CAST(:version AS integer[]),"
            " CAST(:available AS bigint[]), CAST(:pending AS bigint[]),"
            " CAST(:lifetime AS bigint[]), CAST(:debt AS bigint[]), CAST(:level AS integer[]))"
            " AS v(id, version, available, pending, lifetime, debt, level)"
            " WHERE wallets.id = v.id AND wallets.version = v.version RETURNING wallets.id"
        ).bindparams(bindparam("now", type_=UtcDateTime))
        result = await self.session.execute(statement, {**arrays, "now": now})
        return len(result.all())

    # ------------------------------------------------------------------- lots

    async def open_lots(self, wallet_id: int, also: Sequence[str] = ()) -> list[Lot]:
        """The wallet's lots still holding points, plus ``also`` (e.g. lots to reverse)."""
        still_open = and_(lots.c.state != LotState.REVERSED.value, lots.c.remaining > 0)
        wanted = still_open | lots.c.id.in_(list(also)) if also else still_open
        rows = await self.session.execute(select(lots).where(lots.c.wallet_id == wallet_id, wanted))
        return [_lot(row) for row in rows.mappings()]

    async def open_lots_many(self, wallet_ids: Sequence[int]) -> dict[int, list[Lot]]:
        found: dict[int, list[Lot]] = {wallet_id: [] for wallet_id in wallet_ids}
        rows = await self.session.execute(
            select(lots).where(
                lots.c.wallet_id.in_(list(wallet_ids)),
                lots.c.state != LotState.REVERSED.value,
                lots.c.remaining > 0,
            )
        )
        for row in rows.mappings():
            found[int(row["wallet_id"])].append(_lot(row))
        return found

    async def lots_caused_by(self, tenant_id: str, cause: str) -> list[tuple[int, str]]:
        """(wallet id, lot id) of every lot a cause credited, in any wallet of the tenant."""
        rows = await self.session.execute(
            select(lots.c.wallet_id, lots.c.id)
            .where(lots.c.tenant_id == tenant_id, lots.c.cause == cause)
            .order_by(lots.c.wallet_id, lots.c.earned_at, lots.c.id)
        )
        return [(int(wallet_id), str(lot_id)) for wallet_id, lot_id in rows]

    async def insert_lots(self, new: Sequence[tuple[str, int, Lot]]) -> None:
        """(tenant, wallet id, lot) rows in one statement."""
        rows = [{"tenant_id": t, "wallet_id": w, **_lot_values(lot)} for t, w, lot in new]
        await insert_many(self.session, lots, rows)

    async def update_lot(self, lot: Lot) -> None:
        values = _lot_values(lot)
        del values["id"]
        await self.session.execute(update(lots).where(lots.c.id == lot.id).values(**values))

    # ---------------------------------------------------------------- entries

    async def entry_exists(self, tenant_id: str, key: str) -> bool:
        found = await self.session.scalar(
            select(entries.c.id).where(
                entries.c.tenant_id == tenant_id, entries.c.idempotency_key == key
            )
        )
        return found is not None

    async def existing_keys(self, tenant_id: str, keys: Sequence[str]) -> set[str]:
        if not keys:
            return set()
        rows = await self.session.execute(
            select(entries.c.idempotency_key).where(
                entries.c.tenant_id == tenant_id, entries.c.idempotency_key.in_(list(keys))
            )
        )
        return {str(key) for (key,) in rows}

    async def insert_entries(self, new: Sequence[tuple[str, int, Entry]]) -> None:
        """(tenant, wallet id, entry) rows in one statement, in order (ids follow it)."""
        rows = [{"tenant_id": t, "wallet_id": w, **_entry_values(entry)} for t, w, entry in new]
        await insert_many(self.session, entries, rows)

    async def earned_since(
        self, wallet_ids: Sequence[int], rule_ids: Sequence[str], since: datetime
    ) -> list[tuple[int, str, datetime, int]]:
        """(wallet, rule, time, points) of every earning of those rules since ``since``:
        what the caps of a whole batch need, in one query."""
        if not wallet_ids or not rule_ids:
            return []
        rows = await self.session.execute(
            select(
                entries.c.wallet_id,
                entries.c.rule_id,
                entries.c.created_at,
                entries.c.available_delta + entries.c.pending_delta,
            ).where(
                entries.c.wallet_id.in_(list(wallet_ids)),
                entries.c.rule_id.in_(list(rule_ids)),
                entries.c.kind == "earn",
                entries.c.created_at >= since,
            )
        )
        return [(int(w), str(r), at, int(points)) for w, r, at, points in rows]

    async def set_actor(self, tenant_id: str, entry_key: str, actor_id: str) -> None:
        await self.session.execute(
            update(entries)
            .where(entries.c.tenant_id == tenant_id, entries.c.idempotency_key == entry_key)
            .values(actor_id=actor_id)
        )

    async def adjustments_page(
        self, tenant_id: str, where: AdjustmentQuery, *, before_id: int | None, limit: int
    ) -> list[dict[str, Any]]:
        """Operators' adjustments, newest first; ``limit + 1`` rows."""
        query = (
            select(
                entries.c.id,
                wallets.c.member_id,
                (entries.c.available_delta + entries.c.pending_delta).label("points"),
                entries.c.reason,
                entries.c.actor_id,
                entries.c.community_id,
                entries.c.created_at,
            )
            .join(wallets, wallets.c.id == entries.c.wallet_id)
            .where(entries.c.tenant_id == tenant_id, entries.c.kind == "adjust")
        )
        query = where_given(
            query,
            (wallets.c.member_id, where.member_id),
            (entries.c.actor_id, where.actor_id),
            (entries.c.community_id, where.community_id),
        )
        if where.since is not None:
            query = query.where(entries.c.created_at >= where.since)
        if where.until is not None:
            query = query.where(entries.c.created_at < where.until)
        if before_id is not None:
            query = query.where(entries.c.id < before_id)
        rows = await self.session.execute(query.order_by(entries.c.id.desc()).limit(limit + 1))
        return [dict(row) for row in rows.mappings()]

    async def entries_page(
        self, wallet_id: int, *, before_id: int | None, limit: int
    ) -> list[dict[str, Any]]:
        """Newest first; ``limit + 1`` rows so the caller knows whether more follow."""
        query = select(entries).where(entries.c.wallet_id == wallet_id)
        if before_id is not None:
            query = query.where(entries.c.id < before_id)
        rows = await self.session.execute(query.order_by(entries.c.id.desc()).limit(limit + 1))
        return [dict(row) for row in rows.mappings()]

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

    # --------------------------------------------------------- leaderboards

    async def add_scores(self, rows: Sequence[tuple[str, str, ScoreKey, Score]]) -> None:
        """Add (tenant, member, scope and day, score) to the day rows, the all-time rows
        and the rolling windows the day falls in: a statement per table."""
        if not rows:
            return
        days: dict[tuple[str, str, date, str], tuple[int, datetime]] = {}
        totals: dict[tuple[str, str, str], tuple[int, datetime]] = {}
        for tenant_id, member_id, key, score in rows:
            _merge(days, (tenant_id, key.scope, key.day, member_id), score)
            _merge(totals, (tenant_id, key.scope, member_id), score)
        windows: dict[tuple[str, int, str, str], tuple[int, datetime]] = {}
        for tenant_id in sorted({row[0] for row in rows}):
            built = await self.window_states(tenant_id, lock=Lock.SHARE)
            for (tenant, scope, day, member_id), (points, reached) in days.items():
                for span, as_of in built.items():
                    if tenant == tenant_id and as_of is not None and _within(day, as_of, span):
                        _merge(windows, (tenant, span, scope, member_id), Score(points, reached))
        await self._add_up(score_days, _score_rows(score_days, days))
        await self._add_up(score_totals, _score_rows(score_totals, totals))
        await self._add_up(score_windows, _score_rows(score_windows, windows))

    async def _add_up(self, table: Any, rows: list[dict[str, Any]]) -> None:
        """INSERT … ON CONFLICT DO UPDATE adding points; reached_at only moves later.
        One statement (``insert_many``), in key order so that two writers lock the rows
        they share in the same order."""

        def add_up(statement: Any) -> Any:
            later = statement.excluded.reached_at > table.c.reached_at
            return statement.on_conflict_do_update(
                index_elements=list(table.primary_key.columns),
                set_={
                    "points": table.c.points + statement.excluded.points,
                    "reached_at": case(
                        (later, statement.excluded.reached_at), else_=table.c.reached_at
                    ),
                },
            )

        await insert_many(self.session, table, rows, conflict=add_up)

    async def window_states(
        self, tenant_id: str, *, lock: Lock | None = None
    ) -> dict[int, date | None]:
        """span → the day its rows are for (None: never built). Writers of scores hold the
        states FOR SHARE, a rebuild FOR UPDATE (see orm.score_window_state). The rows are
        created if missing, so that there is always something to lock."""
        if lock is not None:
            await self.session.execute(
                _dialect_insert(self.session, score_window_state).on_conflict_do_nothing(),
                [{"tenant_id": tenant_id, "span": span, "as_of": None} for span in SPANS],
            )
        query = (
            select(score_window_state.c.span, score_window_state.c.as_of)
            .where(score_window_state.c.tenant_id == tenant_id)
            .order_by(score_window_state.c.span)
        )
        if lock is not None:
            query = query.with_for_update(read=lock is Lock.SHARE)
        found: dict[int, date | None] = dict.fromkeys(SPANS)
        found.update({int(span): as_of for span, as_of in await self.session.execute(query)})
        return found

    async def rebuild_windows(self, tenant_id: str, as_of: date) -> list[int]:
        """Sum the day rows into the windows ending ``as_of``, for the spans not built for
        that day yet; returns the spans rebuilt."""
        built = await self.window_states(tenant_id, lock=Lock.UPDATE)
        stale = [span for span, day in built.items() if day != as_of]
        for span in stale:
            days = window_days(as_of, span)
            await self.session.execute(
                score_windows.delete().where(
                    score_windows.c.tenant_id == tenant_id, score_windows.c.span == span
                )
            )
            summed = (
                select(
                    score_days.c.tenant_id,
                    literal(span, sa_types.Integer),
                    score_days.c.scope,
                    score_days.c.member_id,
                    func.sum(score_days.c.points),
                    func.max(score_days.c.reached_at),
                )
                .where(
                    score_days.c.tenant_id == tenant_id,
                    score_days.c.day.between(days.first, days.last),
                )
                # Every member with a day in the window, even at 0 points: later writes add
                # to these rows and reached_at must stay the max over all those days.
                .group_by(score_days.c.tenant_id, score_days.c.scope, score_days.c.member_id)
            )
            columns = ["tenant_id", "span", "scope", "member_id", "points", "reached_at"]
            await self.session.execute(score_windows.insert().from_select(columns, summed))
            await self.session.execute(
                update(score_window_state)
                .where(
                    score_window_state.c.tenant_id == tenant_id,
                    score_window_state.c.span == span,
                )
                .values(as_of=as_of)
            )
        return stale

    async def board_top(
        self, tenant_id: str, scope: str, source: BoardSource, limit: int
    ) -> list[tuple[str, int, datetime]]:
        """(member, points, reached_at) of the first ``limit`` members, in board order."""
        scores = self._scores(tenant_id, scope, source).subquery()
        query = (
            select(scores.c.member_id, scores.c.points, scores.c.reached_at)
            .where(scores.c.points > 0)
            .order_by(scores.c.points.desc(), scores.c.reached_at, scores.c.member_id)
            .limit(limit)
        )
        rows = await self.session.execute(query)
        return [(str(m), int(p), r) for m, p, r in rows]

    async def board_score(
        self, tenant_id: str, scope: str, source: BoardSource, member_id: str
    ) -> tuple[int, datetime] | None:
        """A member's points and reached_at on the board; None without points."""
        scores = self._scores(tenant_id, scope, source, member_id=member_id).subquery()
        row = (await self.session.execute(select(scores.c.points, scores.c.reached_at))).first()
        if row is None or row.points is None or row.points <= 0:
            return None
        return int(row.points), row.reached_at

    async def board_ahead(
        self,
        tenant_id: str,
        scope: str,
        source: BoardSource,
        points: int,
        reached_at: datetime,
        member_id: str,
    ) -> int:
        """How many members are strictly ahead of that score in board order. On kept rows,
        two range counts on the board index; on summed days, one pass over the sums."""
        scores = self._scores(tenant_id, scope, source).subquery()
        when = bindparam("reached_at", reached_at, type_=UtcDateTime)
        later_tie = tuple_(scores.c.reached_at, scores.c.member_id) < tuple_(when, member_id)
        ahead = [scores.c.points > points, and_(scores.c.points == points, later_tie)]
        if source.days is not None:
            query = select(func.count()).select_from(scores).where(or_(*ahead))
        else:
            query = select(
                *(
                    select(func.count()).select_from(scores).where(c).scalar_subquery()
                    for c in ahead
                )
            )
        row = (await self.session.execute(query)).one()
        return sum(int(count or 0) for count in row)

    def _scores(
        self, tenant_id: str, scope: str, source: BoardSource, *, member_id: str | None = None
    ) -> Any:
        """(member_id, points, reached_at) per member on the board: kept rows (all time, a
        rolling window) as they are, or the day rows summed over a custom period."""
        if source.days is None:
            table = score_totals if source.span is None else score_windows
            query = select(table.c.member_id, table.c.points, table.c.reached_at).where(
                table.c.tenant_id == tenant_id, table.c.scope == scope
            )
            if source.span is not None:
                query = query.where(table.c.span == source.span)
            if member_id is not None:
                query = query.where(table.c.member_id == member_id)
            return query
        first, last = source.days.first, source.days.last
        query = (
            select(
                score_days.c.member_id,
                func.sum(score_days.c.points).label("points"),
                func.max(score_days.c.reached_at).label("reached_at"),
            )
            .where(
                score_days.c.tenant_id == tenant_id,
                score_days.c.scope == scope,
                score_days.c.day.between(first, last),
            )
            .group_by(score_days.c.member_id)
        )
        if member_id is not None:
            query = query.where(score_days.c.member_id == member_id)
        return query

    # ------------------------------------------------------- rules (operators)

    async def insert_rule_version(
        self, tenant_id: str, rule: EarningRule, now: datetime, *, active: bool = True
    ) -> None:
        await self.session.execute(
            earning_rules.insert().values(
                tenant_id=tenant_id,
                rule_id=rule.rule_id,
                version=rule.version,
                event_type=rule.event_type,
                definition=rule.to_dict(),
                active=active,
                created_at=now,
            )
        )

    async def deactivate_rule_version(self, tenant_id: str, rule_id: str, version: int) -> None:
        await self.session.execute(
            update(earning_rules)
            .where(
                earning_rules.c.tenant_id == tenant_id,
                earning_rules.c.rule_id == rule_id,
                earning_rules.c.version == version,
            )
            .values(active=False)
        )

    async def insert_rule_head(
        self, tenant_id: str, rule: EarningRule, now: datetime, by: str | None
    ) -> bool:
        """False when the tenant already has a rule with that id."""
        values = {
            "tenant_id": tenant_id,
            "rule_id": rule.rule_id,
            "version": rule.version,
            "event_type": rule.event_type,
            "community_id": rule.community_id,
            "archived_at": None,
            "created_at": now,
            "updated_at": now,
            "updated_by": by,
        }
        return await insert_ignore(self.session, rule_heads, values)

    async def update_rule_head(self, tenant_id: str, rule_id: str, values: dict[str, Any]) -> None:
        await self.session.execute(
            update(rule_heads)
            .where(rule_heads.c.tenant_id == tenant_id, rule_heads.c.rule_id == rule_id)
            .values(**values)
        )

    async def rule_head(
        self, tenant_id: str, rule_id: str, *, lock: bool = False
    ) -> RuleHeadRow | None:
        """With its version in force; ``lock`` queues concurrent editors of the rule."""
        query = _heads_query().where(
            rule_heads.c.tenant_id == tenant_id, rule_heads.c.rule_id == rule_id
        )
        if lock:
            query = query.with_for_update(of=rule_heads)
        row = (await self.session.execute(query)).mappings().first()
        return _rule_head(row) if row else None

    async def rule_heads_page(
        self,
        tenant_id: str,
        *,
        after: str | None,
        limit: int,
        event_type: str | None = None,
        community_id: str | None = None,
        archived: bool | None = None,
    ) -> list[RuleHeadRow]:
        """By rule id (stable while rules change); ``limit + 1`` rows."""
        query = _heads_query().where(rule_heads.c.tenant_id == tenant_id)
        if event_type is not None:
            query = query.where(rule_heads.c.event_type == event_type)
        if community_id is not None:
            query = query.where(rule_heads.c.community_id == community_id)
        if archived is not None:
            archived_at = rule_heads.c.archived_at
            query = query.where(archived_at.is_not(None) if archived else archived_at.is_(None))
        if after is not None:
            query = query.where(rule_heads.c.rule_id > after)
        query = query.order_by(rule_heads.c.rule_id).limit(limit + 1)
        return [_rule_head(row) for row in (await self.session.execute(query)).mappings()]

    async def rule_versions(self, tenant_id: str, rule_id: str) -> list[RuleVersionRow]:
        """Newest first."""
        rows = await self.session.execute(
            select(earning_rules)
            .where(earning_rules.c.tenant_id == tenant_id, earning_rules.c.rule_id == rule_id)
            .order_by(earning_rules.c.version.desc())
        )
        return [
            RuleVersionRow(
                EarningRule.from_dict(row["definition"]), bool(row["active"]), row["created_at"]
            )
            for row in rows.mappings()
        ]

    # ------------------------------------------------------ levels, settings

    async def save_level_scheme(self, tenant_id: str, scheme: LevelScheme, now: datetime) -> None:
        values = {"thresholds": list(scheme.thresholds), "names": list(scheme.names)}
        await self.session.execute(
            update(level_schemes)
            .where(level_schemes.c.tenant_id == tenant_id)
            .values(**values, updated_at=now)
        )

    async def level_scheme_updated_at(self, tenant_id: str) -> datetime | None:
        return await self.session.scalar(
            select(level_schemes.c.updated_at).where(level_schemes.c.tenant_id == tenant_id)
        )

    async def notice_days(self, tenant_id: str) -> int | None:
        """Days ahead to announce expiring points; None: the tenant kept the default."""
        return await self.session.scalar(
            select(reward_settings.c.expiry_notice_days).where(
                reward_settings.c.tenant_id == tenant_id
            )
        )

    async def save_notice_days(self, tenant_id: str, days: int, now: datetime) -> None:
        statement = _dialect_insert(self.session, reward_settings)
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

        def rearm(statement: Any) -> Any:
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

        rows = sorted(due, key=lambda row: row["key"])
        await insert_many(self.session, timer_rows, rows, conflict=rearm)

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
        return [_lot(row) for row in rows.mappings()]

    async def mark_announced(self, tenant_id: str, lot_ids: Sequence[str], now: datetime) -> None:
        rows = [{"lot_id": i, "tenant_id": tenant_id, "announced_at": now} for i in lot_ids]
        if rows:
            await self.session.execute(expiry_notices.insert(), rows)

    # --------------------------------------------------------------- reports

    async def report(
        self,
        tenant_id: str,
        first: datetime,
        end: datetime,
        *,
        community_id: str | None,
        group_by: str | None,
    ) -> list[ReportRow]:
        """Totals of the tenant's entries in ``[first, end)``, one row per group (one row
        with key None when not grouped): one aggregate query."""
        key = _report_key(group_by)
        query = select(key.label("key"), *_report_columns()).where(
            entries.c.tenant_id == tenant_id,
            entries.c.created_at >= first,
            entries.c.created_at < end,
        )
        if community_id is not None:
            query = query.where(entries.c.community_id == community_id)
        if group_by is not None:
            query = query.group_by(key).order_by(key)
        rows = (await self.session.execute(query)).mappings().all()
        return [_report_row(row, group_by) for row in rows]


class Lock(Enum):
    SHARE = "share"
    UPDATE = "update"


@dataclass(frozen=True)
class RuleHeadRow:
    """A rule as operators see it: the version in force and whether it is archived."""

    tenant_id: str
    rule_id: str
    version: int
    event_type: str
    community_id: str | None
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime
    updated_by: str | None
    rule: EarningRule


@dataclass(frozen=True)
class RuleVersionRow:
    rule: EarningRule
    active: bool
    created_at: datetime


@dataclass(frozen=True)
class ReportRow:
    key: str | date | None
    earned: int
    spent: int
    restored: int
    expired: int
    reversed: int
    adjusted: int
    members_earning: int


def _heads_query() -> Any:
    version = and_(
        earning_rules.c.tenant_id == rule_heads.c.tenant_id,
        earning_rules.c.rule_id == rule_heads.c.rule_id,
        earning_rules.c.version == rule_heads.c.version,
    )
    return select(rule_heads, earning_rules.c.definition).select_from(
        rule_heads.join(earning_rules, version)
    )


def _rule_head(row: Any) -> RuleHeadRow:
    values = {name: row[name] for name in RuleHeadRow.__dataclass_fields__ if name != "rule"}
    return RuleHeadRow(**values, rule=EarningRule.from_dict(row["definition"]))


def _report_key(group_by: str | None) -> Any:
    if group_by == "rule":
        return entries.c.rule_id
    if group_by == "community":
        return entries.c.community_id
    if group_by == "day":
        return func.date(entries.c.created_at)  # times are stored as naive UTC
    return literal(None, sa_types.String)


def _report_columns() -> list[Any]:
    """Each measure is a conditional sum over the entries' kinds (see README: Reports)."""
    kind = entries.c.kind
    held = entries.c.available_delta + entries.c.pending_delta

    def total(name: str, of_kind: str, value: Any) -> Any:
        return func.coalesce(func.sum(case((kind == of_kind, value), else_=0)), 0).label(name)

    return [
        total("earned", "earn", entries.c.lifetime_delta),
        total("spent", "spend", -entries.c.available_delta),
        total("restored", "restore", entries.c.available_delta),
        total("expired", "expire", -held),
        total("reversed", "reverse", -entries.c.lifetime_delta),
        total("adjusted", "adjust", held),
        func.count(func.distinct(case((kind == "earn", entries.c.wallet_id)))).label(
            "members_earning"
        ),
    ]


def _report_row(row: Any, group_by: str | None) -> ReportRow:
    key = row["key"]
    if group_by == "day" and isinstance(key, str):  # SQLite's date() is text
        key = date.fromisoformat(key)
    measures = {name: int(row[name]) for name in ReportRow.__dataclass_fields__ if name != "key"}
    return ReportRow(key=key, **measures)


@dataclass(frozen=True)
class BoardSource:
    """Where a board's scores come from: the all-time rows (neither set), a kept rolling
    window (``span``), or the day rows summed over ``days``."""

    span: int | None = None
    days: Period | None = None


def _within(day: date, as_of: date, span: int) -> bool:
    return 0 <= (as_of - day).days < span


def _score_rows(table: Any, scores: dict[Any, tuple[int, datetime]]) -> list[dict[str, Any]]:
    keys = [c.name for c in table.primary_key.columns]
    return [
        dict(zip(keys, key, strict=True)) | {"points": points, "reached_at": reached}
        for key, (points, reached) in sorted(scores.items())
    ]


def _merge(into: dict[Any, tuple[int, datetime]], key: Any, score: Score) -> None:
    points, reached_at = into.get(key, (0, score.reached_at))
    into[key] = (points + score.points, max(reached_at, score.reached_at))


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


def _do_nothing(statement: Any) -> Any:
    return statement.on_conflict_do_nothing()


def _dialect_insert(session: AsyncSession, table: Any) -> Any:
    """INSERT with ON CONFLICT support for the session's backend."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _wallet_update(row: WalletRow, after: Balances) -> dict[str, int]:
    return {
        "id": row.id,
        "version": row.version,
        "available": after.available,
        "pending": after.pending,
        "lifetime": after.lifetime,
        "debt": after.debt,
        "level": after.level,
    }


def _wallet_row(row: Any) -> WalletRow:
    return WalletRow(**{name: row[name] for name in WalletRow.__dataclass_fields__})


def _lot(row: Any) -> Lot:
    return Lot(
        id=row["id"],
        points=row["points"],
        remaining=row["remaining"],
        state=LotState(row["state"]),
        earned_at=row["earned_at"],
        available_at=row["available_at"],
        expires_at=row["expires_at"],
        cause=row["cause"],
        community_id=row["community_id"],
        spent=row["spent"],
        expired=row["expired"],
    )


def _lot_values(lot: Lot) -> dict[str, Any]:
    return {
        "id": lot.id,
        "points": lot.points,
        "remaining": lot.remaining,
        "spent": lot.spent,
        "expired": lot.expired,
        "state": lot.state.value,
        "earned_at": lot.earned_at,
        "available_at": lot.available_at,
        "expires_at": lot.expires_at,
        "cause": lot.cause,
        "community_id": lot.community_id,
    }


def _entry_values(entry: Entry) -> dict[str, Any]:
    return {
        "idempotency_key": entry.key,
        "kind": entry.kind.value,
        "available_delta": entry.available_delta,
        "pending_delta": entry.pending_delta,
        "lifetime_delta": entry.lifetime_delta,
        "debt_delta": entry.debt_delta,
        "lot_id": entry.lot_id,
        "community_id": entry.community_id,
        "rule_id": entry.rule_id,
        "rule_version": entry.rule_version,
        "cause": entry.cause,
        "reason": entry.reason,
        "created_at": entry.at,
    }
