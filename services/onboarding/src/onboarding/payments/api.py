"""Memberships: operators list them; the payment backend activates, renews and refunds them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from onboarding.api.deps import (
    Member,
    OnboardingDep,
    Operator,
    PaymentsWriter,
    Refunder,
)
from onboarding.api.schemas import (
    MembershipOut,
    PaymentCreate,
    PaymentOut,
    ProfileOut,
    RefundCreate,
)
from onboarding.audit import Actor
from onboarding.domain.memberships import Status
from onboarding.service import PaymentConfirmation
from servicekit.idempotency import IdempotencyKey, fingerprint, run_idempotent
from servicekit.pagination import Cursor, Limit, Page, keyset_after, next_cursor

router = APIRouter(prefix="/v1/onboarding", tags=["onboarding: memberships"])


@router.get("/memberships", response_model=Page[MembershipOut])
async def list_memberships(
    operator: Operator,
    service: OnboardingDep,
    community_id: Annotated[str | None, Query(max_length=36)] = None,
    member_id: Annotated[str | None, Query(max_length=200)] = None,
    status: Status | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[MembershipOut]:
    rows = await service.memberships(
        operator.tenant_id,
        community_id=community_id,
        member_id=member_id,
        status=status,
        after=keyset_after(cursor),
        limit=limit + 1,
    )
    items = [MembershipOut.of(row) for row in rows[:limit]]
    return Page[MembershipOut](items=items, next_cursor=next_cursor(rows, limit))


@router.get("/memberships/{membership_id}", response_model=MembershipOut)
async def get_membership(
    membership_id: str, operator: Operator, service: OnboardingDep
) -> MembershipOut:
    return MembershipOut.of(await service.membership(operator.tenant_id, membership_id))


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
    service: OnboardingDep,
    idempotency_key: IdempotencyKey = None,
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

    result = await run_idempotent(
        service.sessions,
        tenant_id=writer.tenant_id,
        key=idempotency_key,
        request_hash=fingerprint("POST", request.url.path, body.model_dump(mode="json")),
        operation=operation,
    )
    return result.response()


@router.post("/memberships/{membership_id}/refund", response_model=MembershipOut)
async def refund(
    membership_id: str,
    body: RefundCreate,
    request: Request,
    refunder: Refunder,
    service: OnboardingDep,
    idempotency_key: IdempotencyKey = None,
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

    result = await run_idempotent(
        service.sessions,
        tenant_id=refunder.tenant_id,
        key=idempotency_key,
        request_hash=fingerprint("POST", request.url.path, body.model_dump(mode="json")),
        operation=operation,
    )
    return result.response()


me = APIRouter(prefix="/v1/onboarding/me", tags=["onboarding: me"])


@me.get("/profile", response_model=ProfileOut)
async def my_profile(member: Member, service: OnboardingDep) -> ProfileOut:
    """The calling member's directory entry (empty until the gateway first identifies them)."""
    found = await service.member(member.tenant_id, member.subject)
    if found is None:
        return ProfileOut(member_id=member.subject, display_name=None, profile={}, tags=[])
    return ProfileOut(
        member_id=found.external_id,
        display_name=found.display_name,
        profile=found.profile,
        tags=found.tags,
    )


@me.get("/memberships", response_model=Page[MembershipOut])
async def my_memberships(
    member: Member, service: OnboardingDep, cursor: Cursor = None, limit: Limit = 50
) -> Page[MembershipOut]:
    rows = await service.memberships(
        member.tenant_id, member_id=member.subject, after=keyset_after(cursor), limit=limit + 1
    )
    items = [MembershipOut.of(row) for row in rows[:limit]]
    return Page[MembershipOut](items=items, next_cursor=next_cursor(rows, limit))
