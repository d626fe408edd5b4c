"""The budget's queries: the budget row (locked for change), the drops it holds, entries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from rewards.budgets.domain import Budget, DropHold, DropState, Entry
from rewards.orm import budget_drops, budget_entries, budgets
from servicekit.db import insert_ignore


class ConcurrentBudgetUpdate(RuntimeError):
    """The budget changed under us; the transaction must roll back and be retried."""


@dataclass
class OpenBudget:
    tenant_id: str
    version: int
    budget: Budget
    loaded: dict[str, DropHold]  # the drops as read, to know which ones changed


class BudgetRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def open(self, tenant_id: str, drop_ids: Sequence[str], now: datetime) -> OpenBudget:
        """The tenant's budget (created empty if missing), locked, with the drops named."""
        empty = {"available": 0, "reserved": 0, "version": 0, "updated_at": now}
        await insert_ignore(self.session, budgets, {"tenant_id": tenant_id, **empty})
        query = select(budgets).where(budgets.c.tenant_id == tenant_id).with_for_update()
        row = (await self.session.execute(query)).mappings().one()
        holds = await self._drops(tenant_id, drop_ids)
        budget = Budget(row["available"], row["reserved"], {h.drop_id: h for h in holds})
        loaded = {h.drop_id: _copy(h) for h in holds}
        return OpenBudget(tenant_id, int(row["version"]), budget, loaded)

    async def _drops(self, tenant_id: str, drop_ids: Sequence[str]) -> list[DropHold]:
        if not drop_ids:
            return []
        query = select(budget_drops).where(
            budget_drops.c.tenant_id == tenant_id, budget_drops.c.drop_id.in_(list(drop_ids))
        )
        return [_hold(row) for row in (await self.session.execute(query)).mappings()]

    async def known_keys(self, tenant_id: str, keys: Sequence[str]) -> set[str]:
        if not keys:
            return set()
        query = select(budget_entries.c.idempotency_key).where(
            budget_entries.c.tenant_id == tenant_id,
            budget_entries.c.idempotency_key.in_(list(keys)),
        )
        return set((await self.session.execute(query)).scalars())

    async def save(self, opened: OpenBudget, new: Sequence[Entry], now: datetime) -> None:
        """The drops that changed, the entries, then the budget (conditional on its version)."""
        budget = opened.budget
        for drop_id, hold in budget.drops.items():
            before = opened.loaded.get(drop_id)
            if before is None:
                values = {"tenant_id": opened.tenant_id, **_hold_values(hold), "created_at": now}
                await self.session.execute(budget_drops.insert().values(**values))
            elif before != hold:
                await self.session.execute(
                    update(budget_drops)
                    .where(
                        budget_drops.c.tenant_id == opened.tenant_id,
                        budget_drops.c.drop_id == drop_id,
                    )
                    .values(paid=hold.paid, released=hold.released)
                )
        rows = [_entry_row(opened.tenant_id, entry) for entry in new]
        if rows:
            await self.session.execute(budget_entries.insert(), rows)
        result = await self.session.execute(
            update(budgets)
            .where(budgets.c.tenant_id == opened.tenant_id, budgets.c.version == opened.version)
            .values(
                available=budget.available,
                reserved=budget.reserved,
                version=opened.version + 1,
                updated_at=now,
            )
        )
        if getattr(result, "rowcount", 0) != 1:
            raise ConcurrentBudgetUpdate(opened.tenant_id)
        opened.version += 1
        opened.loaded = {k: _copy(h) for k, h in budget.drops.items()}

    # --------------------------------------------------------------- reads

    async def balances(self, tenant_id: str) -> dict[str, Any]:
        query = select(budgets).where(budgets.c.tenant_id == tenant_id)
        row = (await self.session.execute(query)).mappings().first()
        operators = budget_entries.c.kind.in_(["fund", "withdraw"])
        paid_out = budget_entries.c.kind == "pay"
        funded = await self.session.execute(
            select(
                func.coalesce(
                    func.sum(case((operators, budget_entries.c.available_delta), else_=0)), 0
                ),
                func.coalesce(
                    func.sum(case((paid_out, -budget_entries.c.reserved_delta), else_=0)), 0
                ),
            ).where(budget_entries.c.tenant_id == tenant_id)
        )
        net_funded, paid = funded.one()
        return {
            "available": int(row["available"]) if row else 0,
            "reserved": int(row["reserved"]) if row else 0,
            "funded": int(net_funded or 0),
            "paid": int(paid or 0),
        }

    async def entries(
        self, tenant_id: str, *, drop_id: str | None, before_id: int | None, limit: int
    ) -> list[dict[str, Any]]:
        """Newest first; one more than ``limit`` to tell whether a next page exists."""
        query = select(budget_entries).where(budget_entries.c.tenant_id == tenant_id)
        if drop_id is not None:
            query = query.where(budget_entries.c.drop_id == drop_id)
        if before_id is not None:
            query = query.where(budget_entries.c.id < before_id)
        query = query.order_by(budget_entries.c.id.desc()).limit(limit + 1)
        return [dict(row) for row in (await self.session.execute(query)).mappings()]

    async def drop(self, tenant_id: str, drop_id: str) -> DropHold | None:
        found = await self._drops(tenant_id, [drop_id])
        return found[0] if found else None


def _hold(row: Any) -> DropHold:
    return DropHold(
        drop_id=row["drop_id"],
        total=int(row["total"]),
        state=DropState(row["state"]),
        paid=int(row["paid"]),
        released=int(row["released"]),
        community_id=row["community_id"],
    )


def _copy(hold: DropHold) -> DropHold:
    return DropHold(**vars(hold))


def _hold_values(hold: DropHold) -> dict[str, Any]:
    return {
        "drop_id": hold.drop_id,
        "total": hold.total,
        "state": hold.state.value,
        "paid": hold.paid,
        "released": hold.released,
        "community_id": hold.community_id,
    }


def _entry_row(tenant_id: str, entry: Entry) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "idempotency_key": entry.key,
        "kind": entry.kind.value,
        "available_delta": entry.available_delta,
        "reserved_delta": entry.reserved_delta,
        "drop_id": entry.drop_id,
        "member_id": entry.member_id,
        "community_id": entry.community_id,
        "actor_id": entry.actor_id,
        "reason": entry.reason,
        "created_at": entry.at,
    }
