"""CRM use cases: functions taking the caller's session (one transaction per use case,
opened by the route; with an Idempotency-Key, the key's row is in that transaction too).

Contacts are mapped here and published as ``contacts.received`` events for onboarding's
member directory to apply; nothing about a contact is written in this service's tables.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from integrations import events
from integrations.crm import domain
from integrations.crm.repository import MappingRepository
from servicekit.auth import Principal
from servicekit.outbox import add_events
from servicekit.problems import Problem


@dataclass(frozen=True)
class Contact:
    """A contact as the CRM sent it (its structure already checked)."""

    external_id: str
    fields: dict[str, Any]
    tags: list[str] | None


@dataclass(frozen=True)
class Result:
    external_id: str | None
    row: dict[str, Any] | None = None  # the member directory row, when accepted
    problem: Problem | None = None


def invalid_contact(detail: str, errors: list[dict[str, Any]] | None = None) -> Problem:
    return Problem(422, "invalid-contact", "Invalid contact", detail, errors=errors or [])


async def mapping_of(session: AsyncSession, tenant_id: str) -> domain.FieldMapping:
    row = await MappingRepository(session).get(tenant_id)
    if row is None:
        return domain.FieldMapping()
    return domain.FieldMapping(dict(row.fields), row.unmapped)


async def mapping_row(session: AsyncSession, tenant_id: str) -> Any:
    return await MappingRepository(session).get(tenant_id)


async def put_mapping(
    session: AsyncSession,
    principal: Principal,
    mapping: domain.FieldMapping,
    now: datetime,
) -> Any:
    errors = domain.mapping_errors(mapping.fields)
    if errors:
        raise Problem(
            422, "invalid-mapping", "Invalid mapping", "; ".join(errors[:5]), errors=errors
        )
    repo = MappingRepository(session)
    await repo.put(
        principal.tenant_id, dict(mapping.fields), mapping.unmapped, principal.subject, now
    )
    return await repo.get(principal.tenant_id)


def map_all(contacts: Sequence[Contact | Result], mapping: domain.FieldMapping) -> list[Result]:
    """Each contact mapped alone: a bad one fails alone (its problem in its result)."""
    results = []
    for contact in contacts:
        if isinstance(contact, Result):
            results.append(contact)
            continue
        try:
            row = domain.to_member(contact.external_id, contact.fields, contact.tags, mapping)
        except domain.InvalidContact as error:
            results.append(Result(contact.external_id, problem=invalid_contact(str(error))))
        else:
            results.append(Result(contact.external_id, row=row))
    return results


async def receive(
    session: AsyncSession, tenant_id: str, contacts: Sequence[Contact | Result], now: datetime
) -> tuple[str, list[Result]]:
    """Map the contacts with the tenant's mapping and publish the accepted ones (in order,
    in as many parts as their size needs) for the member directory: the batch's id and a
    result per contact."""
    batch_id = "crm_" + uuid.uuid4().hex
    results = map_all(contacts, await mapping_of(session, tenant_id))
    rows = [r.row for r in results if r.row is not None]
    runs = domain.chunks(rows) if rows else []
    await add_events(
        session,
        [
            events.contacts_received(tenant_id, batch_id, part, len(runs), run, now)
            for part, run in enumerate(runs, start=1)
        ],
    )
    return batch_id, results
