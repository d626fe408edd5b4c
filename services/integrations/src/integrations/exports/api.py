"""The members export (owners and admins): the files made nightly or on request, and their
download as CSV (UTF-8 with a BOM, one row per membership)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from integrations.access import Manager, Now, Sessions
from integrations.exports import service
from servicekit.db import read_only, transaction
from servicekit.pagination import Cursor, Limit, Page, encode_cursor, keyset_after
from servicekit.problems import problem_responses
from servicekit.text import Line

router = APIRouter(prefix="/v1/integrations/exports", tags=["integrations: exports"])

ExportId = Annotated[Line, Path(max_length=40)]
NOT_FOUND = problem_responses({404: "No such export for this tenant"})


class ExportOut(BaseModel):
    id: str
    kind: Literal["nightly", "manual"] = Field(description="Made at 02:00 local, or on request")
    status: Literal["pending", "ready"] = Field(description="pending: being built")
    filename: str
    requested_by: str | None = Field(description="Who asked for it (null: nightly)")
    created_at: datetime
    finished_at: datetime | None
    rows: int = Field(description="CSV rows after the header (one per membership)")
    size_bytes: int

    @classmethod
    def of(cls, row: Any) -> ExportOut:
        return cls(
            id=row.id,
            kind=row.kind,
            status=row.status,
            filename=row.filename,
            requested_by=row.requested_by,
            created_at=row.created_at,
            finished_at=row.finished_at,
            rows=row.rows,
            size_bytes=row.size_bytes,
        )


@router.get("", summary="The tenant's export files, newest first")
async def list_exports(
    sessions: Sessions, principal: Manager, cursor: Cursor = None, limit: Limit = 50
) -> Page[ExportOut]:
    before = keyset_after(cursor)
    async with read_only(sessions) as session:
        rows = await service.files_page(session, principal, before, limit)
    items = [ExportOut.of(row) for row in rows[:limit]]
    last = rows[limit - 1] if len(rows) > limit else None
    following = None if last is None else encode_cursor([last.created_at.isoformat(), last.id])
    return Page[ExportOut](items=items, next_cursor=following)


@router.post(
    "",
    status_code=202,
    summary="Make an export now",
    description=(
        "Answers at once with the pending file; it is built within seconds by the service's "
        "timers (page by page, whatever the tenant's size). Poll it, then download it."
    ),
)
async def request_export(sessions: Sessions, principal: Manager, now: Now) -> ExportOut:
    async with transaction(sessions) as session:
        row = await service.request(session, principal, now)
    return ExportOut.of(row)


@router.get(
    "/{export_id}",
    summary="Download an export (CSV)",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": (
                "UTF-8 with a BOM; one row per membership, the member's columns repeated (a "
                "member without a membership: one row); times on the tenant's clock"
            ),
        },
        **NOT_FOUND,
        **problem_responses({409: "Still being built"}),
    },
)
async def download_export(
    export_id: ExportId, sessions: Sessions, principal: Manager
) -> StreamingResponse:
    async with read_only(sessions) as session:
        row = await service.ready(session, principal, export_id)

    async def parts() -> AsyncIterator[bytes]:
        # A part at a time, each in its own short read: a large file is never held whole.
        for number in range(row.parts):
            async with read_only(sessions) as session:
                text = await service.part(session, row.id, number)
            yield text.encode()

    return StreamingResponse(
        parts(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{row.filename}"',
            "Content-Length": str(row.size_bytes),
        },
    )
