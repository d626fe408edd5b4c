"""CRM sync, inbound: the tenant's field mapping (owners and admins) and contacts pushed one
by one or up to 1,000 at a time (owners, admins, a CRM's API key with members:write), with
an optional ``Idempotency-Key``: the same key and body get the first answer and no second
effect, the same key with another body a 422."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.access import ContactWriter, Manager, Now, Sessions
from integrations.crm import domain, service
from servicekit.db import read_only, transaction
from servicekit.idempotency import REPLAYED_HEADER, IdempotencyKey, answer_once
from servicekit.problems import PROBLEM_TYPE_BASE, Problem, problem_responses
from servicekit.text import LINE_PATTERN, LINE_REFUSED, TEXT_PATTERN, Body, trimmed

router = APIRouter(prefix="/v1/integrations/crm", tags=["integrations: CRM"])

FieldName = Annotated[str, Field(min_length=1, max_length=64, pattern=domain.FIELD_PATTERN)]
ExternalId = Annotated[str, Field(min_length=1, max_length=200, pattern=LINE_PATTERN)]
ExternalIdPath = Annotated[str, Path(min_length=1, max_length=200, pattern=LINE_PATTERN)]
Value = Annotated[str, Field(max_length=domain.MAX_TEXT, pattern=TEXT_PATTERN)]
TagText = Annotated[str, trimmed(1, domain.MAX_TAG, refused=LINE_REFUSED + "|")]
Tags = Annotated[list[TagText], Field(max_length=domain.MAX_TAGS)]
FieldValue = Value | int | float | bool | Tags | None
REPLAYED = {"headers": {REPLAYED_HEADER: {"description": "`true` when this is a stored answer"}}}
IDEMPOTENT = problem_responses(
    {
        400: "Not a valid Idempotency-Key",
        422: "Invalid contact, or the Idempotency-Key was used with another body",
    }
)


class MappingIn(Body):
    fields: Annotated[
        dict[FieldName, FieldName | None],
        Field(
            max_length=domain.MAX_MAPPED,
            description="CRM field → `display_name`, `tags` or a profile key; null drops it",
            examples=[{"mobile": "phone", "nickname": "display_name", "labels": "tags"}],
        ),
    ]
    unmapped: domain.Unmapped = Field(
        "keep", description="Fields the mapping does not name: kept under their name, or dropped"
    )


class MappingOut(BaseModel):
    fields: dict[str, str | None]
    unmapped: domain.Unmapped
    updated_at: datetime | None = Field(description="null: never set (every field kept)")


class ContactFields(Body):
    """One contact: its fields as the CRM names them (mapped by the tenant's mapping), and
    its tags (replace the member's when given)."""

    fields: Annotated[
        dict[FieldName, FieldValue], Field(default_factory=dict, max_length=domain.MAX_FIELDS)
    ]
    tags: Tags | None = None


class ContactIn(ContactFields):
    external_id: ExternalId = Field(description="The contact's id in the CRM (the member's)")


class BatchIn(BaseModel):
    """Contacts are checked one by one (a bad one fails alone), so they are taken as they
    come; each is shaped like `ContactIn`."""

    model_config = ConfigDict(extra="forbid")
    contacts: Annotated[list[Any], Field(min_length=1, max_length=domain.MAX_BATCH)]


class MemberRow(BaseModel):
    external_id: str
    display_name: str | None = None
    profile: dict[str, Any]
    tags: list[str] | None = None


class Accepted(BaseModel):
    batch_id: str = Field(description="Onboarding's member directory applies it shortly")
    member: MemberRow = Field(description="What the directory will apply (mapped)")


class ContactProblem(BaseModel):
    type: str
    title: str
    status: int
    detail: str | None
    errors: list[dict[str, Any]] = []


class ContactResult(BaseModel):
    index: int = Field(description="The contact's position in the request")
    external_id: str | None
    status: int = Field(description="202 accepted, or the problem's (422)")
    outcome: Literal["accepted", "failed"]
    problem: ContactProblem | None


class BatchReceipt(BaseModel):
    batch_id: str
    accepted: int
    failed: int
    results: list[ContactResult]


def _problem(problem: Problem) -> ContactProblem:
    return ContactProblem(
        type=PROBLEM_TYPE_BASE + problem.slug,
        title=problem.title,
        status=problem.status,
        detail=problem.detail,
        errors=list(problem.extensions.get("errors", [])),
    )


def _parse(index: int, raw: object) -> service.Contact | service.Result:
    try:
        contact = ContactIn.model_validate(raw)
    except ValidationError as error:
        external_id = raw.get("external_id") if isinstance(raw, dict) else None
        errors = [
            {
                "location": ["contacts", str(index), *(str(p) for p in item.get("loc", ()))],
                "message": item.get("msg", ""),
            }
            for item in error.errors()
        ]
        problem = service.invalid_contact("One or more fields of the contact are invalid.", errors)
        safe_id = external_id[:200] if isinstance(external_id, str) else None
        return service.Result(safe_id, problem=problem)
    return service.Contact(contact.external_id, dict(contact.fields), contact.tags)


def _receipt(batch_id: str, results: list[service.Result]) -> BatchReceipt:
    items = [
        ContactResult(
            index=i,
            external_id=r.external_id,
            status=202 if r.problem is None else r.problem.status,
            outcome="accepted" if r.problem is None else "failed",
            problem=None if r.problem is None else _problem(r.problem),
        )
        for i, r in enumerate(results)
    ]
    counts = Counter(item.outcome for item in items)
    return BatchReceipt(
        batch_id=batch_id, accepted=counts["accepted"], failed=counts["failed"], results=items
    )


@router.get("/mapping", summary="The tenant's CRM field mapping")
async def get_mapping(sessions: Sessions, principal: Manager) -> MappingOut:
    async with read_only(sessions) as session:
        row = await service.mapping_row(session, principal.tenant_id)
    if row is None:
        return MappingOut(fields={}, unmapped="keep", updated_at=None)
    return MappingOut(fields=dict(row.fields), unmapped=row.unmapped, updated_at=row.updated_at)


@router.put(
    "/mapping",
    summary="Replace the tenant's CRM field mapping",
    responses=problem_responses({422: "Two fields mapped to one target, or a bad name"}),
)
async def put_mapping(
    body: MappingIn, sessions: Sessions, principal: Manager, now: Now
) -> MappingOut:
    mapping = domain.FieldMapping(dict(body.fields), body.unmapped)
    async with transaction(sessions) as session:
        row = await service.put_mapping(session, principal, mapping, now)
    return MappingOut(fields=dict(row.fields), unmapped=row.unmapped, updated_at=row.updated_at)


@router.put(
    "/contacts/{external_id}",
    status_code=202,
    summary="Upsert one contact in the member directory (mapped; applied shortly)",
    response_model=Accepted,
    responses={202: REPLAYED, **IDEMPOTENT},
)
async def put_contact(
    external_id: ExternalIdPath,
    body: ContactFields,
    request: Request,
    sessions: Sessions,
    principal: ContactWriter,
    now: Now,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    contact = service.Contact(external_id, dict(body.fields), body.tags)

    async def operation(session: AsyncSession) -> tuple[int, Any]:
        batch_id, [result] = await service.receive(session, principal.tenant_id, [contact], now)
        if result.problem is not None:
            raise result.problem  # nothing published, nothing stored: it may be sent again
        accepted = Accepted(batch_id=batch_id, member=MemberRow.model_validate(result.row))
        return 202, accepted.model_dump(mode="json", exclude_unset=True)

    return await answer_once(
        request,
        sessions,
        tenant_id=principal.tenant_id,
        key=idempotency_key,
        body=body.model_dump(mode="json"),
        operation=operation,
    )


@router.post(
    "/contacts/batch",
    status_code=202,
    summary="Upsert up to 1,000 contacts in the member directory (mapped; applied shortly)",
    response_model=BatchReceipt,
    responses={202: REPLAYED, **IDEMPOTENT},
)
async def post_contacts(
    body: BatchIn,
    request: Request,
    sessions: Sessions,
    principal: ContactWriter,
    now: Now,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    contacts = [_parse(i, raw) for i, raw in enumerate(body.contacts)]

    async def operation(session: AsyncSession) -> tuple[int, Any]:
        batch_id, results = await service.receive(session, principal.tenant_id, contacts, now)
        return 202, _receipt(batch_id, results).model_dump(mode="json")

    return await answer_once(
        request,
        sessions,
        tenant_id=principal.tenant_id,
        key=idempotency_key,
        body=body.model_dump(mode="json"),
        operation=operation,
    )
