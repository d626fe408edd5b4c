"""Points: a member's own summary and history; operators' view and adjustments."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from rewards.access import Adjuster, Member, Reader, Sessions
from rewards.fields import ExternalId, Reason
from rewards.points import service
from rewards.points.domain import InsufficientPoints
from rewards.points.repository import AdjustmentQuery, ConcurrentUpdate
from rewards.points.service import Summary
from rewards.rules.domain import MAX_POINTS
from servicekit.db import read_only
from servicekit.idempotency import RequiredIdempotencyKey, answer_once
from servicekit.pagination import (
    Cursor,
    Limit,
    Page,
    decode_cursor,
    encode_cursor,
    invalid_cursor,
)
from servicekit.problems import Problem

router = APIRouter(prefix="/v1/rewards", tags=["rewards"])


class Level(BaseModel):
    level: int
    name: str
    floor: int
    next_level_at: int | None
    points_to_next: int | None
    percent: int


class SummaryOut(BaseModel):
    member_id: str
    available: int
    pending: int
    lifetime: int
    debt: int
    level: Level

    @classmethod
    def of(cls, summary: Summary) -> SummaryOut:
        progress = summary.level
        return cls(
            member_id=summary.member_id,
            available=summary.available,
            pending=summary.pending,
            lifetime=summary.lifetime,
            debt=summary.debt,
            level=Level(
                level=progress.level,
                name=progress.name,
                floor=progress.floor,
                next_level_at=progress.next_level_at,
                points_to_next=progress.points_to_next,
                percent=progress.percent,
            ),
        )


class EntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: str
    points: int
    available_delta: int
    pending_delta: int
    lifetime_delta: int
    debt_delta: int
    community_id: str | None
    rule_id: str | None
    rule_version: int | None
    reason: str | None
    created_at: datetime
    reverses_entry_id: int | None = Field(
        default=None, description="A reversal: the id of the entry whose points it takes back"
    )


class EntryPage(BaseModel):
    items: list[EntryOut]
    next_cursor: str | None


class AdjustmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    member_id: ExternalId
    points: Annotated[
        int,
        Field(
            ge=-MAX_POINTS,
            le=MAX_POINTS,
            description="Non-zero",
            json_schema_extra={"not": {"const": 0}},
        ),
    ]
    reason: Reason
    community_id: ExternalId | None = None


@router.get("/me/summary", summary="My points: available, pending, lifetime, level")
async def my_summary(principal: Member, sessions: Sessions) -> SummaryOut:
    async with read_only(sessions) as session:
        found = await service.summary_or_empty(session, principal.tenant_id, principal.subject)
    return SummaryOut.of(found)


@router.get("/me/entries", summary="My points history, newest first")
async def my_entries(
    principal: Member, sessions: Sessions, cursor: Cursor = None, limit: Limit = 50
) -> EntryPage:
    before = _before_id(cursor)
    async with read_only(sessions) as session:
        rows = await service.entries(
            session, principal.tenant_id, principal.subject, before_id=before, limit=limit
        )
    items = [EntryOut(points=r["available_delta"] + r["pending_delta"], **r) for r in rows[:limit]]
    more = len(rows) > limit
    return EntryPage(items=items, next_cursor=encode_cursor([items[-1].id]) if more else None)


@router.get(
    "/members/{member_id}/summary",
    summary="A member's points (operators)",
    responses={404: {"description": "No points in this tenant"}},
)
async def member_summary(
    member_id: Annotated[ExternalId, Path()], principal: Reader, sessions: Sessions
) -> SummaryOut:
    async with read_only(sessions) as session:
        found = await service.summary(session, principal.tenant_id, member_id)
    if found is None:
        raise Problem(404, "not-found", "Not Found", "no such member in this tenant's ledger")
    return SummaryOut.of(found)


@router.post(
    "/adjustments",
    status_code=201,
    summary="Credit or debit a member's points by hand, with a reason",
    responses={409: {"description": "Not enough available points"}},
)
async def create_adjustment(
    body: AdjustmentIn,
    request: Request,
    principal: Adjuster,
    sessions: Sessions,
    idempotency_key: RequiredIdempotencyKey,
) -> JSONResponse:
    key = idempotency_key
    if body.points == 0:
        raise Problem(422, "zero-adjustment", "Zero adjustment", "points must not be 0")
    reason = f"{body.reason} (by {principal.subject})"

    async def operation(session: AsyncSession) -> tuple[int, Any]:
        try:
            summary = await service.adjust(
                session,
                tenant_id=principal.tenant_id,
                member_id=body.member_id,
                points=body.points,
                reason=reason,
                key=key,
                community_id=body.community_id,
                actor_id=principal.subject,
            )
        except InsufficientPoints as error:
            raise Problem(
                409,
                "insufficient-points",
                "Not enough points",
                str(error),
                available=error.available,
            ) from error
        return 201, SummaryOut.of(summary).model_dump(mode="json")

    return await answer_once(
        request,
        sessions,
        tenant_id=principal.tenant_id,
        key=key,
        body=body.model_dump(mode="json"),
        operation=operation,
        retryable=(ConcurrentUpdate,),
    )


class AdjustmentOut(BaseModel):
    id: int
    member_id: str
    points: int
    reason: str | None
    actor_id: str | None  # null for adjustments made before actors were recorded
    community_id: str | None
    created_at: datetime


@router.get("/adjustments", summary="Operators' adjustments (who, how many, why, when)")
async def list_adjustments(
    principal: Reader,
    sessions: Sessions,
    member_id: Annotated[ExternalId | None, Query()] = None,
    actor_id: Annotated[ExternalId | None, Query()] = None,
    community_id: Annotated[ExternalId | None, Query()] = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[AdjustmentOut]:
    """Newest first. The trail of every hand-made credit and debit in the tenant."""
    if since is not None and until is not None and since >= until:
        raise Problem(422, "invalid-period", "Invalid period", "`since` must be before `until`")
    where = AdjustmentQuery(member_id, actor_id, community_id, since, until)
    before = _before_id(cursor)
    async with read_only(sessions) as session:
        rows = await service.adjustments(
            session, principal.tenant_id, where, before_id=before, limit=limit
        )
    items = [AdjustmentOut(**row) for row in rows[:limit]]
    more = len(rows) > limit
    return Page[AdjustmentOut](
        items=items, next_cursor=encode_cursor([items[-1].id]) if more else None
    )


def _before_id(cursor: str | None) -> int | None:
    values = decode_cursor(cursor, 1)
    if values is None:
        return None
    if not isinstance(values[0], int) or isinstance(values[0], bool):
        raise invalid_cursor()
    return values[0]
