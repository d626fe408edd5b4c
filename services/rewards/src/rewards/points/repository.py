"""Queries of the Wallet aggregate: wallets, their lots and entries. Every lookup is
scoped by the tenant or by a wallet that was itself found by tenant."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, case, func, literal, null, select, text, union_all, update
from sqlalchemy.ext.asyncio import AsyncSession

from rewards.orm import entries, lots, membership_outcomes, wallets
from rewards.points.domain import Entry, EntryKind, Lot, LotState, MembershipOutcome
from servicekit.db import dialect_insert, ignore_conflicts, insert_ignore, insert_many, where_given
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
class AdjustmentQuery:
    member_id: str | None = None
    actor_id: str | None = None
    community_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class PointsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

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
        await insert_many(self.session, wallets, rows, conflict=ignore_conflicts)

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

    async def levels(self, tenant_id: str, member_ids: Sequence[str]) -> dict[str, int]:
        """The members' stored levels (members without a wallet are left out)."""
        if not member_ids:
            return {}
        rows = await self.session.execute(
            select(wallets.c.member_id, wallets.c.level).where(
                wallets.c.tenant_id == tenant_id, wallets.c.member_id.in_(list(member_ids))
            )
        )
        return {str(member): int(level) for member, level in rows}

    async def has_wallet(self, tenant_id: str, member_id: str) -> bool:
        query = select(wallets.c.id).where(
            wallets.c.tenant_id == tenant_id, wallets.c.member_id == member_id
        )
        return await self.session.scalar(query.limit(1)) is not None

    # ------------------------------------------------------------------- lots

    async def open_lots(self, wallet_id: int, also: Sequence[str] = ()) -> list[Lot]:
        """The wallet's lots still holding points, plus ``also`` (e.g. lots to reverse)."""
        still_open = and_(lots.c.state != LotState.REVERSED.value, lots.c.remaining > 0)
        wanted = still_open | lots.c.id.in_(list(also)) if also else still_open
        rows = await self.session.execute(select(lots).where(lots.c.wallet_id == wallet_id, wanted))
        return [lot_of_row(row) for row in rows.mappings()]

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
            found[int(row["wallet_id"])].append(lot_of_row(row))
        return found

    async def lots_caused_by(self, tenant_id: str, causes: Sequence[str]) -> list[CausedLot]:
        """Every lot the causes credited, in any wallet of the tenant, with the entry that
        credited it (what a reversal names); in wallet order (the lock order)."""
        credit = and_(entries.c.lot_id == lots.c.id, entries.c.kind.in_(_CREDIT_KINDS))
        rows = await self.session.execute(
            select(lots.c.wallet_id, lots.c.id, entries.c.id, entries.c.idempotency_key)
            .select_from(lots.outerjoin(entries, credit))
            .where(lots.c.tenant_id == tenant_id, lots.c.cause.in_(list(causes)))
            .order_by(lots.c.wallet_id, lots.c.earned_at, lots.c.id)
        )
        return [
            CausedLot(int(wallet), str(lot), int(entry) if entry is not None else None, key)
            for wallet, lot, entry, key in rows
        ]

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

    async def keys_and_outcomes(
        self, tenant_id: str, keys: Sequence[str], membership_ids: Sequence[str]
    ) -> tuple[set[str], dict[str, MembershipOutcome]]:
        """``existing_keys`` and what is known of those memberships, in one statement: the
        credit path's round trips stay as they were."""
        if not membership_ids:
            return await self.existing_keys(tenant_id, keys), {}
        known = select(
            literal("m").label("what"),
            membership_outcomes.c.membership_id.label("key"),
            membership_outcomes.c.forfeited_at,
            membership_outcomes.c.paid_window_ends_at,
        ).where(
            membership_outcomes.c.tenant_id == tenant_id,
            membership_outcomes.c.membership_id.in_(list(membership_ids)),
        )
        done = select(
            literal("e"),
            entries.c.idempotency_key,
            null().cast(UtcDateTime),
            null().cast(UtcDateTime),
        ).where(entries.c.tenant_id == tenant_id, entries.c.idempotency_key.in_(list(keys)))
        rows = await self.session.execute(union_all(known, done) if keys else known)
        found: set[str] = set()
        outcomes: dict[str, MembershipOutcome] = {}
        for what, key, forfeited_at, paid in rows:
            if what == "e":
                found.add(str(key))
            else:
                outcomes[str(key)] = MembershipOutcome(forfeited_at is not None, paid)
        return found, outcomes

    async def merge_outcomes(
        self, tenant_id: str, news: dict[str, MembershipOutcome], now: datetime
    ) -> dict[str, MembershipOutcome]:
        """Merge what the events say into what was known (in one statement; facts only
        accumulate, so any order of events gives the same row); the merged outcomes."""
        if not news:
            return {}
        table = membership_outcomes
        statement = dialect_insert(self.session, table)
        paid, new_paid = table.c.paid_window_ends_at, statement.excluded.paid_window_ends_at
        forfeited = func.coalesce(table.c.forfeited_at, statement.excluded.forfeited_at)
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.tenant_id, table.c.membership_id],
            set_={
                "forfeited_at": forfeited,
                "paid_window_ends_at": case(
                    (paid.is_(None), new_paid),
                    (new_paid.is_(None), paid),
                    (new_paid < paid, new_paid),
                    else_=paid,
                ),
                "updated_at": statement.excluded.updated_at,
            },
        ).returning(table.c.membership_id, table.c.forfeited_at, table.c.paid_window_ends_at)
        merged: dict[str, MembershipOutcome] = {}
        for membership_id, outcome in sorted(news.items()):  # key order: no deadlock
            values = {
                "tenant_id": tenant_id,
                "membership_id": membership_id,
                "forfeited_at": now if outcome.forfeited else None,
                "paid_window_ends_at": outcome.paid_window_ends_at,
                "updated_at": now,
            }
            row = (await self.session.execute(statement, values)).one()
            merged[str(row[0])] = MembershipOutcome(row[1] is not None, row[2])
        return merged

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


_CREDIT_KINDS = (EntryKind.EARN.value, EntryKind.ADJUST.value)


@dataclass(frozen=True)
class CausedLot:
    wallet_id: int
    lot_id: str
    entry_id: int | None  # the entry that credited it
    entry_key: str | None


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


def lot_of_row(row: Any) -> Lot:
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
        "reverses_entry_id": entry.reverses_entry_id,
    }
