"""Messages: ``fan_out`` makes one delivery per subscribed endpoint and arms its attempt
timer (or leaves it waiting behind an earlier message of the same member, or for its
endpoint's rate limit); operators list deliveries, send tests, redeliver and recover."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from integrations.webhooks import domain
from integrations.webhooks.attempts import ATTEMPT_TIMER, LEASE_MARGIN, LEASE_TIMER, SLOT_TIMER, Job
from integrations.webhooks.endpoints import Policy, endpoint
from integrations.webhooks.repository import OPEN, DeliveryRepository, EndpointRepository
from servicekit import timers
from servicekit.auth import Principal
from servicekit.db import insert_many
from servicekit.events import Event
from servicekit.problems import Problem, not_found
from servicekit.tables import timers as timers_table

RECOVER_LIMIT = 1000


def _delivery(
    endpoint_id: str,
    tenant_id: str,
    message_id: str,
    event_type: str,
    body: str,
    order_key: str | None,
    now: datetime,
) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "endpoint_id": endpoint_id,
        "message_id": message_id,
        "event_type": event_type,
        "body": body,
        "order_key": order_key,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "last_status_code": None,
        "created_at": now,
        "finished_at": None,
    }


async def fan_out(
    session: AsyncSession, batch: Sequence[Event], now: datetime, direct: Policy | None = None
) -> list[Job]:
    """One message per event and enabled endpoint of its tenant that subscribes to its type.
    ``direct`` (a dispatcher runs in this process): first attempts are claimed here, in the
    consumer's transaction, and returned to be sent once it commits (no timer in between);
    otherwise their attempt timers are armed."""
    endpoints: dict[str, list[Any]] = defaultdict(list)
    for row in await EndpointRepository(session).enabled_of([e.tenant_id for e in batch]):
        endpoints[row.tenant_id].append(row)
    rows = []
    for event in batch:
        kind = domain.public_type(event.type)
        subscribers = [
            e for e in endpoints.get(event.tenant_id, ()) if domain.subscribed(e.event_types, kind)
        ]
        if not subscribers:
            continue
        body = domain.body(kind, event.time, event.data)
        message_id = domain.message_id(event.id)
        key = domain.order_key(event.data)
        rows += [
            _delivery(e.id, event.tenant_id, message_id, kind, body, key, now) for e in subscribers
        ]
    targets = {e.id: e for group in endpoints.values() for e in group}
    return await _enqueue(session, rows, now, direct, targets)


async def _enqueue(
    session: AsyncSession,
    rows: list[dict[str, Any]],
    now: datetime,
    direct: Policy | None = None,
    targets: dict[str, Any] | None = None,
) -> list[Job]:
    """Insert messages; the first open one per (endpoint, member) goes now (claimed, when
    ``direct``) or at its attempt timer, the others wait their turn."""
    if not rows:
        return []
    repo = DeliveryRepository(session)
    keys = [row["order_key"] for row in rows if row["order_key"]]
    busy = await repo.open_order_keys([row["endpoint_id"] for row in rows], keys)
    for row in rows:
        if row["order_key"] is not None:
            pair = (row["endpoint_id"], row["order_key"])
            if pair in busy:
                row["status"], row["next_attempt_at"] = "waiting", None
            busy.add(pair)
        if direct is not None and row["status"] == "pending":
            row.update(status="sending", attempts=1, next_attempt_at=None)
    inserted = await repo.add_many(rows)
    if direct is None or targets is None:
        await _arm(session, [row.id for row in inserted if row.status == "pending"], now)
        return []
    sending = [row for row in inserted if row.status == "sending"]
    slots = await _reserve_slots(session, sending, targets, now)
    deferred = [row for row in sending if not domain.goes_now(slots[row.id], now)]
    if deferred:
        await _defer(session, [(row.id, slots[row.id]) for row in deferred])
        sending = [row for row in sending if domain.goes_now(slots[row.id], now)]
    await insert_many(
        session,
        timers_table,
        [
            {
                "kind": LEASE_TIMER,
                "key": str(row.id),
                "due_at": slots[row.id] + direct.timeout + LEASE_MARGIN,
                "payload": {"delivery_id": row.id, "attempt": 1},
                "attempts": 0,
            }
            for row in sending
        ],
    )
    made = {(row["endpoint_id"], row["message_id"]): row for row in rows}
    jobs = []
    for row in sending:
        target, message = targets[row.endpoint_id], made[(row.endpoint_id, row.message_id)]
        keys = domain.signing_secrets(
            target.secret, target.previous_secret, target.previous_secret_until, now
        )
        jobs.append(
            Job(
                row.id,
                1,
                target.tenant_id,
                target.id,
                target.url,
                row.message_id,
                message["body"],
                keys,
                not_before=slots[row.id],
                rate_limit_per_s=target.rate_limit_per_s,
            )
        )
    return jobs


async def _reserve_slots(
    session: AsyncSession, rows: Sequence[Any], targets: dict[str, Any], now: datetime
) -> dict[int, datetime]:
    """Each claimed message's slot: ``now``, or for an endpoint with a rate limit the next
    free one, reserved in order under the endpoint's lock (replicas share the limit)."""
    limited = sorted({r.endpoint_id for r in rows if targets[r.endpoint_id].rate_limit_per_s})
    repo = EndpointRepository(session)
    next_free = await repo.lock_next_send(limited)
    slots = {}
    for row in rows:
        rate = targets[row.endpoint_id].rate_limit_per_s
        slot, after = domain.reserve(next_free.get(row.endpoint_id), now, rate)
        if rate:
            next_free[row.endpoint_id] = after
        slots[row.id] = slot
    for endpoint_id in limited:
        await repo.set_next_send(endpoint_id, next_free[endpoint_id])
    return slots


async def _defer(session: AsyncSession, slotted: Sequence[tuple[int, datetime]]) -> None:
    """Claimed messages whose slot is beyond the horizon go back to pending, with their
    attempt timer at the slot they hold (it is not reserved again when it fires)."""
    repo = DeliveryRepository(session)
    for delivery_id, slot in slotted:
        await repo.update(delivery_id, status="pending", attempts=0, next_attempt_at=slot)
    await insert_many(
        session,
        timers_table,
        [
            {
                "kind": SLOT_TIMER,
                "key": str(delivery_id),
                "due_at": slot,
                "payload": {"delivery_id": delivery_id, "slot": slot.isoformat()},
                "attempts": 0,
            }
            for delivery_id, slot in slotted
        ],
    )


async def _arm(session: AsyncSession, delivery_ids: Sequence[int], due: datetime) -> None:
    """Attempt timers for new messages, in one statement (their keys are new)."""
    await insert_many(
        session,
        timers_table,
        [
            {
                "kind": ATTEMPT_TIMER,
                "key": str(delivery_id),
                "due_at": due,
                "payload": {"delivery_id": delivery_id},
                "attempts": 0,
            }
            for delivery_id in delivery_ids
        ],
    )


async def send_test(
    session: AsyncSession, principal: Principal, endpoint_id: str, now: datetime
) -> Any:
    row = await endpoint(session, principal, endpoint_id)
    data = {"tenant_id": row.tenant_id, "endpoint_id": row.id, "message": "测试 test event"}
    message_id = "msg_" + uuid.uuid4().hex
    body = domain.body(domain.TEST_EVENT, now, data)
    await _enqueue(
        session,
        [_delivery(row.id, row.tenant_id, message_id, domain.TEST_EVENT, body, None, now)],
        now,
    )
    return await DeliveryRepository(session).by_message(row.id, message_id)


async def delivery(
    session: AsyncSession, principal: Principal, endpoint_id: str, delivery_id: int
) -> Any:
    await endpoint(session, principal, endpoint_id)
    row = await DeliveryRepository(session).of_tenant(principal.tenant_id, endpoint_id, delivery_id)
    if row is None:
        raise not_found("delivery")
    return row


async def deliveries_page(
    session: AsyncSession,
    principal: Principal,
    endpoint_id: str,
    before: int | None,
    limit: int,
    status: str | None,
) -> list[Any]:
    await endpoint(session, principal, endpoint_id)
    repo = DeliveryRepository(session)
    return await repo.page(principal.tenant_id, endpoint_id, before, limit, status)


async def attempts_of(session: AsyncSession, delivery_id: int) -> list[Any]:
    return await DeliveryRepository(session).attempts(delivery_id)


async def _again(session: AsyncSession, row: Any, now: datetime) -> None:
    """A finished message sent again with a fresh retry schedule (same webhook-id)."""
    repo = DeliveryRepository(session)
    waiting = await repo.earlier_open(row)
    await repo.update(
        row.id,
        status="waiting" if waiting else "pending",
        attempts=0,
        next_attempt_at=None if waiting else now,
        finished_at=None,
    )
    if not waiting:
        await timers.schedule(session, ATTEMPT_TIMER, str(row.id), now, {"delivery_id": row.id})


async def redeliver(
    session: AsyncSession, principal: Principal, endpoint_id: str, delivery_id: int, now: datetime
) -> Any:
    row = await delivery(session, principal, endpoint_id, delivery_id)
    if row.status in OPEN:
        raise Problem(409, "delivery-in-progress", "Delivery in progress", "it is not finished yet")
    await _again(session, row, now)
    return await DeliveryRepository(session).get(row.id)


async def recover(
    session: AsyncSession, principal: Principal, endpoint_id: str, since: datetime, now: datetime
) -> int:
    """Every failed message made since ``since`` sent again (up to RECOVER_LIMIT a call)."""
    await endpoint(session, principal, endpoint_id)
    repo = DeliveryRepository(session)
    ids = await repo.failed_since(principal.tenant_id, endpoint_id, since, RECOVER_LIMIT)
    for delivery_id in ids:
        await _again(session, await repo.get(delivery_id), now)
    return len(ids)
