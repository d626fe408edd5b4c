"""Use cases of payments: the tenant's backend confirms a payment (activate or renew) or a
refund; a term or trial ends (the expiry timer). ``confirm_payment`` and ``refund`` run
inside run_idempotent's transaction; the timer in the timer runner's.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from onboarding import events
from onboarding.applications.service import admitted
from onboarding.audit import service as audit
from onboarding.audit.service import Actor
from onboarding.ids import new_id
from onboarding.joins.upgrades import upgrade_after_payment
from onboarding.membership import domain as aggregate
from onboarding.membership.domain import Outcome
from onboarding.membership.repository import Repository
from onboarding.membership.service import (
    ENDED,
    Source,
    activated,
    check_entry,
    decide,
    new_membership,
    paid_terms,
    save,
    state_of,
)
from onboarding.membership.states import Status
from onboarding.orm import Membership, Payment
from onboarding.payments.domain import PaidTerms
from onboarding.payments.repository import PaymentRepository
from onboarding.payments.timers import EXPIRY_TIMER, schedule_expiry
from onboarding.problems import application_required, conflict, unprocessable
from servicekit.outbox import add_event
from servicekit.problems import not_found
from servicekit.timers import Timer, cancel
from servicekit.types import utcnow


@dataclass(frozen=True)
class PaymentConfirmation:
    reference: str
    community_id: str
    member_id: str
    amount_cents: int
    currency: str
    accepted_rules_version: int | None = None  # the member accepted these rules in the app


class Payments:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def confirm_payment(
        self, session: AsyncSession, tenant_id: str, payment: PaymentConfirmation
    ) -> tuple[Membership, Payment]:
        """Activate (or renew) the member's membership; runs inside run_idempotent's transaction."""
        repo = Repository(session)
        community = await repo.community(tenant_id, payment.community_id)
        if community is None:
            raise not_found("community")
        terms = paid_terms(community)
        if terms is None:
            raise unprocessable("not-paid", "Not a paid community", "this community is free")
        if (payment.amount_cents, payment.currency.upper()) != (terms.price_cents, terms.currency):
            raise unprocessable(
                "amount-mismatch",
                "Amount mismatch",
                f"the price is {terms.price_cents} {terms.currency}",
            )
        payments = PaymentRepository(session)
        if await payments.payment_by_reference(tenant_id, payment.reference) is not None:
            raise conflict(
                "payment-duplicate", "Payment already recorded", "this reference was confirmed"
            )
        membership = await repo.membership_of(tenant_id, community.id, payment.member_id)
        if community.application_form is not None and not await admitted(session, membership):
            raise application_required("the member's application was not approved")
        if membership is None or Status(membership.status) in ENDED:
            await check_entry(repo, community, payment.member_id, payment.accepted_rules_version)
        if membership is None:
            membership = await new_membership(
                session,
                tenant_id,
                community.id,
                payment.member_id,
                Status.PENDING_PAYMENT,
                Source(kind="payment"),
            )
        return await _apply_payment(session, membership, terms, payment)

    async def refund(
        self,
        session: AsyncSession,
        tenant_id: str,
        membership_id: str,
        reason: str | None,
        *,
        actor: Actor,
    ) -> Membership:
        """Refund the latest payment inside its window: the membership is revoked."""
        repo = Repository(session)
        membership = await repo.membership(tenant_id, membership_id)
        if membership is None:
            raise not_found("membership")
        payment = await PaymentRepository(session).latest_payment(membership.id)
        if payment is None or payment.refunded_at is not None:
            raise conflict("nothing-to-refund", "Nothing to refund", "no refundable payment")
        now = utcnow()
        change = decide(aggregate.refund, state_of(membership), payment.refund_window_ends_at, now)
        await save(session, membership, change, now)
        payment.refunded_at = now
        await cancel(session, EXPIRY_TIMER, membership.id)
        await add_event(session, events.membership_refunded(membership, reason, now))
        await audit.record(
            session,
            tenant_id,
            actor,
            "membership.refunded",
            target_kind="membership",
            target_id=membership.id,
            community_id=membership.community_id,
            reason=reason,
            details={"member_id": membership.member_id, "payment_id": payment.id},
        )
        return membership


async def _apply_payment(
    session: AsyncSession,
    membership: Membership,
    terms: PaidTerms,
    confirmation: PaymentConfirmation,
) -> tuple[Membership, Payment]:
    now = utcnow()
    before = state_of(membership)
    change = decide(aggregate.pay, before, terms, now)
    assert change.period is not None
    payment = Payment(
        id=new_id(),
        tenant_id=membership.tenant_id,
        membership_id=membership.id,
        reference=confirmation.reference,
        amount_cents=confirmation.amount_cents,
        currency=confirmation.currency.upper(),
        paid_at=now,
        refund_window_ends_at=change.period.refund_window_ends_at,
        refunded_at=None,
    )
    session.add(payment)
    from_group = membership.group_id
    await save(session, membership, change, now)
    if change.outcome == Outcome.RENEWED:
        await schedule_expiry(session, membership)
        await add_event(session, events.membership_renewed(membership, payment.id, now))
    else:
        repo = Repository(session)
        community = await repo.community(membership.tenant_id, membership.community_id)
        assert community is not None
        await activated(session, community, membership, change, None, now)
        await upgrade_after_payment(session, membership, before, from_group)
    return membership, payment


async def expire_membership(session: AsyncSession, timer: Timer) -> None:
    """Timer: a trial or a term ended (a renewal moves the timer and the term together)."""
    repo = Repository(session)
    membership = await repo.membership(timer.payload["tenant_id"], timer.payload["membership_id"])
    if membership is None:
        return
    change = aggregate.expire(state_of(membership), timer.due_at)
    if change.outcome != Outcome.EXPIRED:
        return  # refunded, left, removed or renewed meanwhile: nothing to expire
    now = utcnow()
    await save(session, membership, change, now)
    await add_event(session, events.membership_expired(membership, membership.tier, now))
