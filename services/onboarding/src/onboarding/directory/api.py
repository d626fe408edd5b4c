"""The member directory: operators upsert members one by one or in batches, list and search."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from onboarding.access import MembersReader, MembersWriter
from onboarding.directory.service import MAX_BATCH, Directory, MemberFields, Outcome, RowResult
from servicekit.pagination import Cursor, Limit, Page, keyset_after, next_cursor
from servicekit.problems import PROBLEM_TYPE_BASE, not_found

router = APIRouter(prefix="/v1/onboarding/members", tags=["onboarding: members"])

ExternalIdPath = Annotated[str, Path(min_length=1, max_length=200)]


async def directory(request: Request) -> Directory:
    settings = request.app.state.settings
    return Directory(request.app.state.sessions, bulk_backlog=settings.outbox_bulk_backlog)


DirectoryDep = Annotated[Directory, Depends(directory)]


class MemberOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    external_id: str
    display_name: str | None
    profile: dict[str, Any]
    tags: list[str]
    created_at: datetime
    updated_at: datetime


class BatchIn(BaseModel):
    """Rows are checked one by one (a bad row fails alone), so they are taken as they come."""

    model_config = ConfigDict(extra="forbid")
    rows: Annotated[list[Any], Field(min_length=1, max_length=MAX_BATCH)]


class RowProblem(BaseModel):
    type: str
    title: str
    status: int
    detail: str | None
    errors: list[dict[str, Any]] = []


class RowOut(BaseModel):
    index: int  # the row's position in the request
    external_id: str | None
    status: int  # as if the row had been PUT alone: 201 created, 200, or the problem's
    outcome: str  # created, updated, unchanged, failed
    problem: RowProblem | None


class BatchOut(BaseModel):
    results: list[RowOut]
    created: int
    updated: int
    unchanged: int
    failed: int


def row_out(index: int, result: RowResult) -> RowOut:
    problem = None
    if result.problem is not None:
        p = result.problem
        problem = RowProblem(
            type=PROBLEM_TYPE_BASE + p.slug,
            title=p.title,
            status=p.status,
            detail=p.detail,
            errors=list(p.extensions.get("errors", [])),
        )
    return RowOut(
        index=index,
        external_id=result.external_id,
        status=result.status,
        outcome=result.outcome,
        problem=problem,
    )


@router.put(
    "/{external_id}",
    response_model=MemberOut,
    responses={200: {"description": "Updated or unchanged"}, 201: {"description": "Created"}},
)
async def upsert_member(
    external_id: ExternalIdPath,
    body: MemberFields,
    operator: MembersWriter,
    members: DirectoryDep,
    response: Response,
) -> MemberOut:
    """Create or update a member by the tenant's id: display_name and tags replace when given,
    profile fields merge (null removes one). Sending the same body again changes nothing."""
    member, created = await members.upsert(operator.tenant_id, body.upsert(external_id))
    response.status_code = 201 if created else 200
    return MemberOut.model_validate(member)


@router.post("/batch", response_model=BatchOut)
async def upsert_batch(body: BatchIn, operator: MembersWriter, members: DirectoryDep) -> BatchOut:
    """Up to 1,000 upserts in one transaction, each row reported on its own (a bad row is a
    422 in its result, never the others' failure). Re-sending the rows changes nothing."""
    results = await members.upsert_batch(operator.tenant_id, body.rows)
    counts = Counter(r.outcome for r in results)
    return BatchOut(
        results=[row_out(i, r) for i, r in enumerate(results)],
        created=counts[Outcome.CREATED],
        updated=counts[Outcome.UPDATED],
        unchanged=counts[Outcome.UNCHANGED],
        failed=counts[Outcome.FAILED],
    )


@router.get("/{external_id}", response_model=MemberOut)
async def get_member(
    external_id: ExternalIdPath, operator: MembersReader, members: DirectoryDep
) -> MemberOut:
    found = await members.member(operator.tenant_id, external_id)
    if found is None:
        raise not_found("member")
    return MemberOut.model_validate(found)


@router.get("", response_model=Page[MemberOut])
async def list_members(
    operator: MembersReader,
    members: DirectoryDep,
    tag: Annotated[str | None, Query(min_length=1, max_length=50)] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[MemberOut]:
    """Oldest first; ``tag`` filters on one tag, ``q`` matches the start of the external id
    or any part of the display name."""
    rows = await members.members(
        operator.tenant_id, tag=tag, q=q, after=keyset_after(cursor), limit=limit + 1
    )
    items = [MemberOut.model_validate(row) for row in rows[:limit]]
    return Page[MemberOut](items=items, next_cursor=next_cursor(rows, limit))
