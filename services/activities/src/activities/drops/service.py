"""Point drops' use cases: functions taking the caller's session (one transaction per use
case, opened by the entry point; the expiry timer's runner opens its own)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from activities import events
from activities.access import is_member
from activities.drops import domain
from activities.drops.repository import DropRepository
from activities.members.domain import may_take_part
from activities.members.repository import MembersRepository
from activities.refusal import Refused
from servicekit import timers
from servicekit.auth import Principal
from servicekit.outbox import add_event
from servicekit.problems import Problem, not_found

EXPIRE_TIMER = "activities.drop.expire"


def drop_of(row: Any) -> domain.Drop:
    return domain.Drop(
        total=row.total_points,
        slots=row.slots,
        split=domain.Split(row.split),
        min_points=row.min_points,
        expires_at=row.expires_at,
        expired_at=row.expired_at,
    )


def refused(error: Refused) -> Problem:
    return Problem(409, error.reason.value, "Claim refused", error.detail)


@dataclass(frozen=True)
class Draft:
    community_id: str
    group_id: str | None
    drop: domain.Drop


async def create(session: AsyncSession, principal: Principal, draft: Draft, now: datetime) -> Any:
    """The shares are decided now, from a seed kept with the drop."""
    tenant_id = principal.tenant_id
    if await MembersRepository(session).community(tenant_id, draft.community_id) is None:
        raise Problem(404, "not-found", "Not Found", f"no such community: {draft.community_id}")
    drop = draft.drop
    drop_id = str(uuid.uuid4())
    seed = domain.new_seed()
    repo = DropRepository(session)
    await repo.add(
        {
            "id": drop_id,
            "tenant_id": tenant_id,
            "community_id": draft.community_id,
            "group_id": draft.group_id,
            "sender_id": principal.subject,
            "total_points": drop.total,
            "slots": drop.slots,
            "split": drop.split.value,
            "min_points": drop.min_points,
            "seed": seed,
            "shares": domain.shares(drop, seed),
            "claimed": 0,
            "expires_at": drop.expires_at,
            "expired_at": None,
            "returned_points": None,
            "created_at": now,
        }
    )
    payload = {"tenant_id": tenant_id, "drop_id": drop_id}
    await timers.schedule(session, EXPIRE_TIMER, drop_id, drop.expires_at, payload)
    row = await repo.get(tenant_id, drop_id)
    # Rewards reserves the whole total from the operator's budget (or refuses the drop).
    await add_event(session, events.drop_created(row))
    return row


async def readable(session: AsyncSession, principal: Principal, drop_id: str) -> Any:
    """The drop, for operators of its tenant and for members of its community (its group
    if dropped into one); to anyone else it does not exist (404)."""
    row = await DropRepository(session).get(principal.tenant_id, drop_id)
    if row is None:
        raise not_found("drop")
    if is_member(principal):
        states = await MembersRepository(session).of_member(
            principal.tenant_id, principal.subject, row.community_id
        )
        if not may_take_part(states, row.community_id, row.group_id):
            raise not_found("drop")
    return row


async def listed(session: AsyncSession, principal: Principal) -> list[Any]:
    repo = DropRepository(session)
    if not is_member(principal):
        return await repo.of_tenant(principal.tenant_id, None)
    seats = await MembersRepository(session).seats(principal.tenant_id, principal.subject)
    active = [s for s in seats if s.active]
    rows = await repo.of_tenant(principal.tenant_id, sorted({s.community_id for s in active}))
    return [r for r in rows if may_take_part(active, r.community_id, r.group_id)]


async def claim(
    session: AsyncSession, principal: Principal, drop_id: str, now: datetime
) -> dict[str, Any]:
    """The next share to the member: reads without locks first (the refusals most claims
    of a hot drop meet), then the one conditional update that takes a share (the row lock,
    taken last), the claim (its key refuses a second claim of the member: the update rolls
    back with it) and the event."""
    row = await readable(session, principal, drop_id)
    repo = DropRepository(session)
    before = await repo.claimed_by(row.tenant_id, row.id, principal.subject)
    try:
        domain.check_claim(drop_of(row), claimed_before=before, claimed=row.claimed, now=now)
    except Refused as error:
        raise refused(error) from None
    slot = await repo.take(row.tenant_id, row.id, now)
    if slot is None:
        raise refused(Refused(domain.Refusal.EMPTY, "every share has been claimed"))
    claim_row = {
        "tenant_id": row.tenant_id,
        "drop_id": row.id,
        "member_id": principal.subject,
        "claim_id": str(uuid.uuid4()),
        "slot": slot,
        "points": int(row.shares[slot]),
        "claimed_at": now,
    }
    if not await repo.add_claim(claim_row):
        raise refused(Refused(domain.Refusal.ALREADY, "one share per member"))
    await add_event(session, events.drop_claimed(row, claim_row))
    return claim_row


async def expire(session: AsyncSession, tenant_id: str, drop_id: str, at: datetime) -> None:
    """Once, at ``expires_at``: what is left goes back to the sender (drop.expired)."""
    repo = DropRepository(session)
    if not await repo.expire(tenant_id, drop_id, at):
        return
    row = await repo.get(tenant_id, drop_id)
    count, points = await repo.claimed_points(tenant_id, drop_id)
    back = domain.returned(row.total_points, points)
    await repo.set_returned(tenant_id, drop_id, back)
    if back > 0:
        await add_event(session, events.drop_expired(row, count, points, back, at))


async def expire_due(session: AsyncSession, timer: timers.Timer) -> None:
    payload = timer.payload
    await expire(session, str(payload["tenant_id"]), str(payload["drop_id"]), timer.due_at)


async def claims(session: AsyncSession, principal: Principal, drop_id: str) -> list[Any]:
    row = await readable(session, principal, drop_id)
    return await DropRepository(session).claims(row.tenant_id, row.id)
