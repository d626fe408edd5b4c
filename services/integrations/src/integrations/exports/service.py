"""The export's use cases: fold the platform's events into its projection, arm each
tenant's nightly timer, build a file page by page, list and read the files. Functions take
a session; the consumer runner, the timer runner or the route owns the transaction."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from integrations.exports import domain, facts
from integrations.exports.repository import ExportsRepository, member_state
from servicekit.auth import Principal
from servicekit.events import Event
from servicekit.problems import Problem, not_found
from servicekit.projection import fold_run
from servicekit.timers import Timer, cancel, schedule

log = logging.getLogger(__name__)

NIGHTLY_TIMER = "integrations.export.nightly"
BUILD_TIMER = "integrations.export.build"
# Members read per page while a file is built: one part of the file each, a progress line
# in the log each; a large tenant's file never sits whole in memory.
PAGE_SIZE = 1000


# --- the projection ------------------------------------------------------------------------


async def apply_member_events(
    session: AsyncSession, events: Sequence[Event], now: datetime
) -> None:
    """member.upserted, level.changed, the ledger's entries: folded onto the member rows
    they touch, one read and one write for the run."""
    repo = ExportsRepository(session)
    await fold_run(
        events,
        key=lambda event: (event.tenant_id, str(event.data["member_id"])),
        fact=lambda event: facts.MEMBER_FACTS[event.type](event.data),
        fold=domain.fold_member,
        load=repo.members,
        save=repo.save_members,
    )
    await know_tenants(session, [event.tenant_id for event in events], now)


async def apply_membership_events(
    session: AsyncSession, events: Sequence[Event], now: datetime
) -> None:
    repo = ExportsRepository(session)
    await fold_run(
        events,
        key=lambda event: (event.tenant_id, str(event.data["membership_id"])),
        fact=lambda event: facts.MEMBERSHIP_FACTS[event.type](event.data),
        fold=domain.fold_membership,
        load=repo.memberships,
        save=repo.save_memberships,
    )
    await repo.know_members([(e.tenant_id, str(e.data["member_id"])) for e in events])
    await know_tenants(session, [event.tenant_id for event in events], now)


async def know_tenants(session: AsyncSession, tenant_ids: Sequence[str], now: datetime) -> None:
    """A tenant first heard of gets its row (the default zone until gateway's events say)
    and its first nightly timer."""
    repo = ExportsRepository(session)
    known = await repo.tenants(tenant_ids)
    for tenant_id in sorted(set(tenant_ids) - set(known)):
        # Only the writer that adds the row arms the timer: a zone a concurrent tenant
        # event just saved is never overwritten with the default.
        if await repo.add_tenant(tenant_id, domain.DEFAULT_ZONE):
            key = await _arm_nightly(session, tenant_id, domain.DEFAULT_ZONE, now)
            await repo.set_next(tenant_id, key)


async def apply_tenant_event(session: AsyncSession, event: Event, now: datetime) -> None:
    """gateway's tenant.created / tenant.updated: the tenant's zone, unless a newer event set
    it; a changed zone moves the next nightly run to 02:00 on the new zone's clock."""
    named, at = facts.tenant_zone(event.data, event.time)
    repo = ExportsRepository(session)
    known = (await repo.tenants([event.tenant_id])).get(event.tenant_id)
    if known is not None and not domain.supersedes(at, known.zone_at):
        return
    timezone = named if named and domain.zone(named).key == named else None
    if timezone is None:
        timezone = known.timezone if known is not None else domain.DEFAULT_ZONE
    next_key = known.next_key if known is not None else None
    if known is None or timezone != known.timezone:
        if next_key is not None:
            await cancel(session, NIGHTLY_TIMER, next_key)
        next_key = await _arm_nightly(session, event.tenant_id, timezone, now)
    await repo.save_tenant(event.tenant_id, timezone, at, next_key)


async def _arm_nightly(session: AsyncSession, tenant_id: str, zone_name: str, now: datetime) -> str:
    day, at = domain.next_run(now, zone_name)
    key = domain.timer_key(tenant_id, day)
    await schedule(session, NIGHTLY_TIMER, key, at, {"tenant_id": tenant_id})
    return key


# --- files ---------------------------------------------------------------------------------


async def on_nightly(session: AsyncSession, timer: Timer, now: datetime) -> None:
    """The nightly timer: the tenant's file, then the next night's timer (a new key: a
    fired timer row is not re-armed)."""
    tenant_id = str(timer.payload["tenant_id"])
    repo = ExportsRepository(session)
    tenant = (await repo.tenants([tenant_id])).get(tenant_id)
    zone_name = tenant.timezone if tenant is not None else domain.DEFAULT_ZONE
    # Named after the night it is for, even when the timer fired late.
    named = timer.due_at.astimezone(domain.zone(zone_name))
    export_id = await _new_file(session, tenant_id, "nightly", None, now, named)
    await build(session, export_id, tenant_id, zone_name, now)
    key = await _arm_nightly(session, tenant_id, zone_name, max(now, timer.due_at))
    await repo.set_next(tenant_id, key)


async def request(session: AsyncSession, principal: Principal, now: datetime) -> Any:
    """A file now, on request: pending, built by the timer runner within its next poll (one
    way to build, whatever the tenant's size, and never inside a request)."""
    repo = ExportsRepository(session)
    tenant = (await repo.tenants([principal.tenant_id])).get(principal.tenant_id)
    zone_name = tenant.timezone if tenant is not None else domain.DEFAULT_ZONE
    named = now.astimezone(domain.zone(zone_name))
    export_id = await _new_file(
        session, principal.tenant_id, "manual", principal.subject, now, named
    )
    await schedule(session, BUILD_TIMER, export_id, now, {"tenant_id": principal.tenant_id})
    return await repo.file_by_id(export_id)


async def on_build(session: AsyncSession, timer: Timer, now: datetime) -> None:
    repo = ExportsRepository(session)
    row = await repo.file_by_id(timer.key)
    if row is None or row.status == "ready":
        return
    tenant = (await repo.tenants([row.tenant_id])).get(row.tenant_id)
    zone_name = tenant.timezone if tenant is not None else domain.DEFAULT_ZONE
    await build(session, row.id, row.tenant_id, zone_name, now)


async def _new_file(
    session: AsyncSession,
    tenant_id: str,
    kind: str,
    requested_by: str | None,
    at: datetime,
    local: datetime,
) -> str:
    export_id = "exp_" + uuid.uuid4().hex
    await ExportsRepository(session).add_file(
        {
            "id": export_id,
            "tenant_id": tenant_id,
            "kind": kind,
            "status": "pending",
            "filename": domain.filename(kind, local),
            "requested_by": requested_by,
            "created_at": at,
            "finished_at": None,
            "rows": 0,
            "parts": 0,
            "size_bytes": 0,
        }
    )
    return export_id


async def build(
    session: AsyncSession, export_id: str, tenant_id: str, zone_name: str, now: datetime
) -> None:
    """The file in parts: the header, then one part per page of members (keyset order),
    each page's memberships read in one statement."""
    repo = ExportsRepository(session)
    tz = domain.zone(zone_name)
    header = domain.csv_text([], header=True)
    await repo.add_part(export_id, 0, header)
    parts, members, rows, size = 1, 0, 0, len(header.encode())
    after: str | None = None
    while True:
        page = await repo.member_page(tenant_id, after, PAGE_SIZE)
        if not page:
            break
        ids = [row["member_id"] for row in page]
        memberships = await repo.memberships_of(tenant_id, ids)
        lines = [
            line
            for row in page
            for line in domain.rows(
                row["member_id"], member_state(row), memberships.get(row["member_id"], []), tz
            )
        ]
        text = domain.csv_text(lines)
        await repo.add_part(export_id, parts, text)
        parts, members = parts + 1, members + len(page)
        rows, size = rows + len(lines), size + len(text.encode())
        after = ids[-1]
        log.info(
            "export %s of tenant %s: %d members so far, %d rows, %d bytes",
            export_id,
            tenant_id,
            members,
            rows,
            size,
        )
        if len(page) < PAGE_SIZE:
            break
    await repo.finish(export_id, now, rows, parts, size)
    log.info("export %s of tenant %s ready: %d rows in %d parts", export_id, tenant_id, rows, parts)


async def files_page(
    session: AsyncSession, principal: Principal, before: tuple[datetime, str] | None, limit: int
) -> list[Any]:
    return await ExportsRepository(session).files_page(principal.tenant_id, before, limit)


async def file(session: AsyncSession, principal: Principal, export_id: str) -> Any:
    row = await ExportsRepository(session).file(principal.tenant_id, export_id)
    if row is None:
        raise not_found("export")
    return row


async def ready(session: AsyncSession, principal: Principal, export_id: str) -> Any:
    """The file's row, if it can be downloaded: another tenant's is not found, a pending one
    is a 409 (try again shortly)."""
    row = await file(session, principal, export_id)
    if row.status != "ready":
        raise Problem(
            409, "export-not-ready", "Export not ready", "it is being built; retry shortly"
        )
    return row


async def part(session: AsyncSession, export_id: str, number: int) -> str:
    return await ExportsRepository(session).part(export_id, number) or ""
