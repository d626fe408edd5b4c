"""Queries of payments, refunds and renewal reminders."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from onboarding.orm import Payment, RenewalReminder
from onboarding.queries import insert_if_absent
from servicekit.tables import timers


class PaymentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # payments
    async def payment_by_reference(self, tenant_id: str, reference: str) -> Payment | None:
        return await self.session.scalar(
            select(Payment).where(Payment.tenant_id == tenant_id, Payment.reference == reference)
        )

    async def latest_payment(self, membership_id: str) -> Payment | None:
        return await self.session.scalar(
            select(Payment)
            .where(Payment.membership_id == membership_id)
            .order_by(Payment.paid_at.desc(), Payment.id.desc())
            .limit(1)
        )

    # timers and reminders
    # timers and reminders
    async def cancel_pending_timers(self, kind: str, key_prefix: str) -> None:
        await self.session.execute(
            delete(timers).where(
                timers.c.kind == kind,
                timers.c.key.startswith(key_prefix, autoescape=True),
                timers.c.fired_at.is_(None),
            )
        )

    async def insert_reminder_if_absent(self, row: RenewalReminder) -> bool:
        return await insert_if_absent(self.session, row)
