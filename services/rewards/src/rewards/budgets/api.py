"""The operator's points budget: fund or withdraw (audited as entries), see it and its
entries. Members never see it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from rewards.access import Adjuster, Reader, Sessions
from rewards.budgets import service
from rewards.budgets.domain import MAX_FUNDING, InsufficientBudget
from rewards.budgets.repository import ConcurrentBudgetUpdate
from rewards.fields import ExternalId, Reason
from servicekit.db import read_only
from servicekit.idempotency import RequiredIdempotencyKey, answer_once
from servicekit.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor, invalid_cursor
from servicekit.problems import Problem

router = APIRouter(prefix="/v1/rewards/budget", tags=["budget"])


class BudgetOut(BaseModel):
    available: int = Field(description="Funded and not held by any drop")
    reserved: int = Field(description="Held by open drops for their claims")
    funded: int = Field(description="Funded less withdrawn, ever")
    paid: int = Field(description="Paid to members by drops, ever")


class FundingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    points: Annotated[
        int,
        Field(
            ge=-MAX_FUNDING,
            le=MAX_FUNDING,
            description="Positive: funding; negative: a withdrawal of unreserved points",
            json_schema_extra={"not": {"const": 0}},
        ),
    ]
    reason: Reason


class BudgetEntryOut(BaseModel):
    id: int
    kind: str
    available_delta: int
    reserved_delta: int
    drop_id: str | None
    member_id: str | None
    community_id: str | None
    actor_id: str | None
    reason: str | None
    created_at: datetime


@router.get("", summary="The operator's points budget")
async def get_budget(principal: Reader, sessions: Sessions) -> BudgetOut:
    async with read_only(sessions) as session:
        found = await service.balances(session, principal.tenant_id)
    return BudgetOut(**vars(found))


@router.post(
    "/fundings",
    status_code=201,
    summary="Fund the budget, or withdraw unreserved points, with a reason",
    responses={409: {"description": "Not enough unreserved points to withdraw"}},
)
async def create_funding(
    body: FundingIn,
    request: Request,
    principal: Adjuster,
    sessions: Sessions,
    idempotency_key: RequiredIdempotencyKey,
) -> JSONResponse:
    if body.points == 0:
        raise Problem(422, "zero-funding", "Zero funding", "points must not be 0")

    async def operation(session: AsyncSession) -> tuple[int, Any]:
        try:
            found = await service.fund(
                session,
                principal.tenant_id,
                body.points,
                body.reason,
                principal.subject,
                idempotency_key,
            )
        except InsufficientBudget as error:
            raise Problem(
                409,
                "insufficient-budget",
                "Not enough unreserved points",
                str(error),
                available=error.available,
            ) from error
        return 201, BudgetOut(**vars(found)).model_dump(mode="json")

    return await answer_once(
        request,
        sessions,
        tenant_id=principal.tenant_id,
        key=idempotency_key,
        body=body.model_dump(mode="json"),
        operation=operation,
        retryable=(ConcurrentBudgetUpdate,),
    )


@router.get("/entries", summary="The budget's entries, newest first")
async def list_entries(
    principal: Reader,
    sessions: Sessions,
    drop_id: Annotated[ExternalId | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[BudgetEntryOut]:
    """Fundings and withdrawals (who, why), drops' reservations, paid shares and
    releases: the balances are the sums of these entries' deltas."""
    before = _before_id(cursor)
    async with read_only(sessions) as session:
        rows = await service.entries(
            session, principal.tenant_id, drop_id=drop_id, before_id=before, limit=limit
        )
    items = [BudgetEntryOut(**{k: v for k, v in r.items() if k in _FIELDS}) for r in rows[:limit]]
    more = len(rows) > limit
    return Page[BudgetEntryOut](
        items=items, next_cursor=encode_cursor([items[-1].id]) if more else None
    )


_FIELDS = set(BudgetEntryOut.model_fields)


def _before_id(cursor: str | None) -> int | None:
    values = decode_cursor(cursor, 1)
    if values is None:
        return None
    if not isinstance(values[0], int) or isinstance(values[0], bool):
        raise invalid_cursor()
    return values[0]
