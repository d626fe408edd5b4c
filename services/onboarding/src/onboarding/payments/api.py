"""Payments: the tenant's payment backend activates, renews and refunds memberships."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy.ext.asyncio import AsyncSession

from onboarding.access import PaymentsWriter, Refunder
from onboarding.audit.service import Actor
from onboarding.membership.schemas import MembershipOut
from onboarding.payments.service import PaymentConfirmation, Payments
from onboarding.schemas import (
    Currency,
    ExternalId,
    RulesVersion,
    Strict,
)
from servicekit.idempotency import RequiredIdempotencyKey, answer_once
from servicekit.text import trimmed

# The same prefix and tag as the memberships' routes: one section of the API.


Reference = Annotated[str, trimmed(1, 200)]


class PaymentCreate(Strict):
    reference: Reference  # the payment's id in the tenant's payment system
    community_id: Annotated[str, StringConstraints(min_length=1, max_length=36)]
    member_id: ExternalId
    amount_cents: Annotated[int, Field(gt=0, le=100_000_000)]
    currency: Currency
    accepted_rules_version: RulesVersion | None = None  # when the payment creates the membership


class PaymentOut(BaseModel):
    payment_id: str
    membership: MembershipOut


class RefundCreate(Strict):
    reason: Annotated[str, trimmed(0, 500)] | None = None


router = APIRouter(prefix="/v1/onboarding", tags=["onboarding: memberships"])


async def payments_service(request: Request) -> Payments:
    return Payments(request.app.state.sessions)


PaymentsDep = Annotated[Payments, Depends(payments_service)]


@router.post(
    "/payments",
    status_code=201,
    response_model=PaymentOut,
    responses={409: {"description": "Reference already confirmed, or the member is banned"}},
)
async def confirm_payment(
    body: PaymentCreate,
    request: Request,
    writer: PaymentsWriter,
    service: PaymentsDep,
    idempotency_key: RequiredIdempotencyKey,
) -> JSONResponse:
    """The tenant's backend confirms a payment: the membership becomes active, or is renewed."""
    confirmation = PaymentConfirmation(**body.model_dump())

    async def operation(session: AsyncSession) -> tuple[int, Any]:
        membership, payment = await service.confirm_payment(
            session,
            writer.tenant_id,
            confirmation,
        )
        out = PaymentOut(payment_id=payment.id, membership=MembershipOut.of(membership))
        return 201, out.model_dump(mode="json")

    return await answer_once(
        request,
        service.sessions,
        tenant_id=writer.tenant_id,
        key=idempotency_key,
        body=body.model_dump(mode="json"),
        operation=operation,
    )


@router.post("/memberships/{membership_id}/refund", response_model=MembershipOut)
async def refund(
    membership_id: str,
    body: RefundCreate,
    request: Request,
    refunder: Refunder,
    service: PaymentsDep,
    idempotency_key: RequiredIdempotencyKey,
) -> JSONResponse:
    """Refund inside the refund window: the membership is revoked (409 outside the window)."""

    async def operation(session: AsyncSession) -> tuple[int, Any]:
        membership = await service.refund(
            session,
            refunder.tenant_id,
            membership_id,
            body.reason,
            actor=Actor.of(refunder),
        )
        return 200, MembershipOut.of(membership).model_dump(mode="json")

    return await answer_once(
        request,
        service.sessions,
        tenant_id=refunder.tenant_id,
        key=idempotency_key,
        body=body.model_dump(mode="json"),
        operation=operation,
    )
