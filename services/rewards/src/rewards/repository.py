"""Queries of the rewards service. Every lookup is scoped by the tenant or by a wallet
that was itself found by tenant."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from rewards.domain.ledger import Entry, Lot, LotState
from rewards.domain.levels import LevelScheme
from rewards.domain.rules import EarnedSoFar, EarningRule, Periods
from rewards.orm import earning_rules, entries, level_schemes, lots, tenants, wallets
from servicekit.db import insert_ignore


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
            await self.session.execute(
                earning_rules.insert().values(
                    tenant_id=tenant_id,
                    rule_id=rule.rule_id,
                    version=rule.version,
                    event_type=rule.event_type,
                    definition=rule.to_dict(),
                    active=True,
                    created_at=now,
                )
            )
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

    async def save_wallet(self, row: WalletRow, balances: Balances, now: datetime) -> None:
        """Conditional on the version read: a concurrent writer makes this fail, not overwrite."""
        result = await self.session.execute(
            update(wallets)
            .where(wallets.c.id == row.id, wallets.c.version == row.version)
            .values(
                available=balances.available,
                pending=balances.pending,
                lifetime=balances.lifetime,
                debt=balances.debt,
                level=balances.level,
                version=row.version + 1,
                updated_at=now,
            )
        )
        if getattr(result, "rowcount", 0) != 1:
            raise ConcurrentUpdate(f"wallet {row.id} changed concurrently")

    # ------------------------------------------------------------------- lots

    async def open_lots(self, wallet_id: int, also: Sequence[str] = ()) -> list[Lot]:
        """The wallet's lots still holding points, plus ``also`` (e.g. lots to reverse)."""
        still_open = and_(lots.c.state != LotState.REVERSED.value, lots.c.remaining > 0)
        wanted = still_open | lots.c.id.in_(list(also)) if also else still_open
        rows = await self.session.execute(select(lots).where(lots.c.wallet_id == wallet_id, wanted))
        return [_lot(row) for row in rows.mappings()]

    async def lots_caused_by(self, tenant_id: str, cause: str) -> list[tuple[int, str]]:
        """(wallet id, lot id) of every lot a cause credited, in any wallet of the tenant."""
        rows = await self.session.execute(
            select(lots.c.wallet_id, lots.c.id)
            .where(lots.c.tenant_id == tenant_id, lots.c.cause == cause)
            .order_by(lots.c.wallet_id, lots.c.earned_at, lots.c.id)
        )
        return [(int(wallet_id), str(lot_id)) for wallet_id, lot_id in rows]

    async def insert_lot(self, tenant_id: str, wallet_id: int, lot: Lot) -> None:
        await self.session.execute(
            lots.insert().values(tenant_id=tenant_id, wallet_id=wallet_id, **_lot_values(lot))
        )

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

    async def insert_entries(
        self, tenant_id: str, wallet_id: int, new: Sequence[Entry]
    ) -> list[int]:
        ids = []
        for entry in new:
            result = await self.session.execute(
                entries.insert()
                .values(tenant_id=tenant_id, wallet_id=wallet_id, **_entry_values(entry))
                .returning(entries.c.id)
            )
            ids.append(int(result.scalar_one()))
        return ids

    async def earned_from_rule(self, wallet_id: int, rule_id: str, at: datetime) -> EarnedSoFar:
        """Points the rule credited this wallet in the day, week and month containing ``at``."""
        periods = Periods.containing(at)
        points = entries.c.available_delta + entries.c.pending_delta

        def since(start: datetime) -> Any:
            return func.coalesce(
                func.sum(case((entries.c.created_at >= start, points), else_=0)), 0
            )

        row = (
            await self.session.execute(
                select(since(periods.day), since(periods.week), since(periods.month)).where(
                    entries.c.wallet_id == wallet_id,
                    entries.c.rule_id == rule_id,
                    entries.c.kind == "earn",
                    entries.c.created_at >= min(periods.week, periods.month),
                )
            )
        ).one()
        return EarnedSoFar(day=int(row[0]), week=int(row[1]), month=int(row[2]))

    async def entries_page(
        self, wallet_id: int, *, before_id: int | None, limit: int
    ) -> list[dict[str, Any]]:
        """Newest first; ``limit + 1`` rows so the caller knows whether more follow."""
        query = select(entries).where(entries.c.wallet_id == wallet_id)
        if before_id is not None:
            query = query.where(entries.c.id < before_id)
        rows = await self.session.execute(query.order_by(entries.c.id.desc()).limit(limit + 1))
        return [dict(row) for row in rows.mappings()]


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
