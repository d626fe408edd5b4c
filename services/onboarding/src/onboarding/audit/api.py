"""The audit log: owners and admins search every moderator and operator action."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict

from onboarding.access import Manager
from onboarding.audit.service import AuditFilter, AuditLog
from servicekit.pagination import Cursor, Limit, Page, keyset_after, next_cursor
from servicekit.problems import Problem

router = APIRouter(prefix="/v1/onboarding", tags=["onboarding: audit"])


async def audit_log(request: Request) -> AuditLog:
    return AuditLog(request.app.state.sessions)


class AuditRecordOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    actor_id: str
    actor_kind: str
    action: str
    target_kind: str
    target_id: str
    community_id: str | None
    reason: str | None
    details: dict[str, Any]
    created_at: datetime


@router.get("/audit", response_model=Page[AuditRecordOut])
async def search_audit_log(
    manager: Manager,
    log: Annotated[AuditLog, Depends(audit_log)],
    actor_id: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[
        str | None,
        Query(max_length=60, description='Exact, or a prefix ending in "." (e.g. `sanction.`)'),
    ] = None,
    target_id: Annotated[str | None, Query(max_length=200)] = None,
    community_id: Annotated[str | None, Query(max_length=36)] = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[AuditRecordOut]:
    """Newest first: who did what, to which target, why and when."""
    if since is not None and until is not None and since >= until:
        raise Problem(422, "invalid-period", "Invalid period", "`since` must be before `until`")
    where = AuditFilter(actor_id, action, target_id, community_id, since, until)
    rows = await log.search(manager.tenant_id, where, before=keyset_after(cursor), limit=limit + 1)
    items = [AuditRecordOut.model_validate(row) for row in rows[:limit]]
    return Page[AuditRecordOut](items=items, next_cursor=next_cursor(rows, limit))
