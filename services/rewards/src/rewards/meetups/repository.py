"""Queries of meetup payments: one row per registration that cost points, scoped by tenant."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from rewards.meetups.domain import Payment, PaymentState
from rewards.orm import meetup_payments as payments
from rewards.points.domain import Allocation

_P = payments.c


class PaymentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, tenant_id: str, registration_id: str) -> Payment | None:
        query = select(payments).where(
            _P.tenant_id == tenant_id, _P.registration_id == registration_id
        )
        row = (await self.session.execute(query)).mappings().first()
        return _payment(row) if row else None

    async def add(self, tenant_id: str, payment: Payment) -> None:
        """A plain INSERT: a concurrent twin of the same confirmation fails on the key and
        its transaction is retried, to find this row."""
        await self.session.execute(insert(payments).values(tenant_id=tenant_id, **_values(payment)))

    async def refunded(self, tenant_id: str, payment: Payment) -> bool:
        """Record a refund, only if the payment is still charged (True when it was)."""
        statement = (
            update(payments)
            .where(
                _P.tenant_id == tenant_id,
                _P.registration_id == payment.registration_id,
                _P.state == PaymentState.CHARGED.value,
            )
            .values(
                state=payment.state.value,
                refunded=payment.refunded,
                refunded_at=payment.refunded_at,
            )
        )
        result = await self.session.execute(statement)
        return bool(getattr(result, "rowcount", 0) == 1)


def _values(payment: Payment) -> dict[str, Any]:
    return {
        "registration_id": payment.registration_id,
        "meetup_id": payment.meetup_id,
        "member_id": payment.member_id,
        "community_id": payment.community_id,
        "cost": payment.cost,
        "state": payment.state.value,
        "charged": payment.charged,
        "refunded": payment.refunded,
        "allocations": [_allocation_json(a) for a in payment.allocations],
        "charged_at": payment.charged_at,
        "refunded_at": payment.refunded_at,
    }


def _payment(row: Any) -> Payment:
    return Payment(
        registration_id=str(row["registration_id"]),
        meetup_id=str(row["meetup_id"]),
        member_id=str(row["member_id"]),
        community_id=row["community_id"],
        cost=int(row["cost"]),
        state=PaymentState(row["state"]),
        charged=int(row["charged"]),
        refunded=int(row["refunded"]),
        allocations=tuple(_allocation(raw) for raw in row["allocations"]),
        charged_at=row["charged_at"],
        refunded_at=row["refunded_at"],
    )


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
