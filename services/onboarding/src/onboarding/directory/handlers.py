"""Event consumers of the member directory: each translates one event into a use case step."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from itertools import groupby
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from onboarding.directory.service import MemberUpsert, parse_row, upsert_members
from servicekit.events import Event

log = logging.getLogger(__name__)


async def on_member_identified(session: AsyncSession, event: Event) -> None:
    """gateway.member.identified → the member directory (the runner owns the transaction)."""
    profile = event.data.get("profile")
    await upsert_member(
        session,
        event.tenant_id,
        str(event.data["external_id"]),
        profile if isinstance(profile, dict) else {},
    )


async def upsert_member(
    session: AsyncSession, tenant_id: str, external_id: str, profile: dict[str, Any]
) -> None:
    """gateway's member.identified: merge the profile (an unchanged one emits nothing).

    The directory's batch upsert with one row; the gateway's profile is not held to the
    API's size bounds (it was accepted there already).
    """
    row = MemberUpsert(external_id, profile=profile)
    await upsert_members(session, tenant_id, [row], bounded=False)


async def on_contacts_received(session: AsyncSession, batch: Sequence[Event]) -> None:
    """integrations.contacts.received (a CRM's contacts, mapped to directory rows) → the
    directory, the same batch upsert as the API's: one call per run of a tenant's events,
    rows in the order received. Idempotent: the inbox skips a redelivered event, and a row
    that changes nothing writes and publishes nothing. A row the directory refuses (checked
    by integrations already, so only a merged profile outgrowing its bounds) is skipped
    and logged; the others are applied."""
    for tenant_id, run in groupby(batch, key=lambda event: event.tenant_id):
        rows: list[MemberUpsert] = []
        refused = 0
        for event in run:
            contacts = event.data.get("contacts")
            for raw in contacts if isinstance(contacts, list) else ():
                parsed = parse_row(raw)
                if isinstance(parsed, MemberUpsert):
                    rows.append(parsed)
                else:
                    refused += 1
        results = await upsert_members(session, tenant_id, rows) if rows else []
        refused += sum(1 for result in results if result.problem is not None)
        if refused:
            log.warning("tenant %s: %d CRM contacts refused by the directory", tenant_id, refused)
