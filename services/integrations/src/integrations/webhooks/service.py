"""Webhooks' use cases: functions taking the caller's session (one transaction per use case,
opened by the entry point: a route, the consumer, a timer or the dispatcher).

A message's life: ``fan_out`` makes one delivery per subscribed endpoint and arms its
attempt timer (or leaves it waiting behind an earlier message of the same member);
``claim`` (the attempt timer) marks it sending and arms a lease timer; the dispatcher sends
it outside any transaction and ``record`` writes the outcome: delivered, or the next
attempt's timer on the retry schedule, or failed. A process killed mid-send leaves the
lease timer, which records the attempt as interrupted and retries it: at least once.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from integrations import events
from integrations.settings import Settings
from integrations.webhooks import domain
from integrations.webhooks.repository import OPEN, DeliveryRepository, EndpointRepository
from servicekit import timers
from servicekit.auth import Principal
from servicekit.db import insert_many
from servicekit.events import Event
from servicekit.outbox import add_event
from servicekit.problems import Problem, not_found
from servicekit.tables import timers as timers_table

ATTEMPT_TIMER = "integrations.webhook.attempt"
LEASE_TIMER = "integrations.webhook.lease"
# An attempt waiting for the slot it holds (its endpoint's rate limit). A kind of its own:
# a timer re-armed by its own handler would be marked fired after it.
SLOT_TIMER = "integrations.webhook.slot"
LEASE_MARGIN = timedelta(seconds=60)
RECOVER_LIMIT = 1000

Resolver = Callable[[str, int], Awaitable[list[str]]]


@dataclass(frozen=True)
class Policy:
    allow_http: bool
    allow_private: bool
    timeout: timedelta
    rotation_overlap: timedelta
    disable_after: timedelta

    @classmethod
    def of(cls, settings: Settings) -> Policy:
        return cls(
            allow_http=settings.webhooks_allow_http,
            allow_private=settings.webhooks_allow_private,
            timeout=timedelta(seconds=settings.webhooks_timeout_s),
            rotation_overlap=timedelta(hours=settings.webhooks_rotation_overlap_hours),
            disable_after=timedelta(days=settings.webhooks_disable_after_days),
        )


# --- endpoints -----------------------------------------------------------------------------


def invalid(detail: str) -> Problem:
    return Problem(422, "invalid-endpoint", "Invalid endpoint", detail)


async def check_url(url: str, policy: Policy, resolve: Resolver) -> None:
    """Refuse a URL that is not https (http in development) or that names or resolves to an
    address a delivery may not reach. A name that does not resolve now is accepted: every
    delivery checks again."""
    try:
        target = domain.target(url, allow_http=policy.allow_http)
    except domain.InvalidEndpoint as error:
        raise invalid(str(error)) from None
    if policy.allow_private:
        return
    reason = domain.refused_host(target.host)
    if reason is None and not target.literal:
        _, reason = domain.first_allowed(await resolve(target.host, target.port))
    if reason is not None:
        raise Problem(
            422,
            "endpoint-address-refused",
            "Endpoint address refused",
            f"the URL leads to a {reason.value} address, which webhooks never call",
        )


def check_patterns(patterns: Sequence[str]) -> list[str]:
    bad = [p for p in patterns if not domain.valid_pattern(p)]
    if bad:
        raise invalid(f"not an event type pattern: {bad[0]!r} (e.g. membership.* or *)")
    return sorted(set(patterns))


@dataclass(frozen=True)
class Draft:
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    rate_limit_per_s: float | None = None


async def create(
    session: AsyncSession,
    principal: Principal,
    draft: Draft,
    now: datetime,
    policy: Policy,
    resolve: Resolver,
) -> Any:
    await check_url(draft.url, policy, resolve)
    endpoint_id = "ep_" + uuid.uuid4().hex
    repo = EndpointRepository(session)
    await repo.add(
        {
            "id": endpoint_id,
            "tenant_id": principal.tenant_id,
            "url": draft.url,
            "description": draft.description,
            "event_types": check_patterns(draft.event_types),
            "enabled": draft.enabled,
            "disabled_reason": None if draft.enabled else "by an operator",
            "secret": domain.new_secret(),
            "previous_secret": None,
            "previous_secret_until": None,
            "failing_since": None,
            "rate_limit_per_s": draft.rate_limit_per_s,
            "next_send_at": None,
            "created_by": principal.subject,
            "created_at": now,
            "updated_at": now,
        }
    )
    return await repo.get(principal.tenant_id, endpoint_id)


async def endpoint(
    session: AsyncSession, principal: Principal, endpoint_id: str, *, lock: bool = False
) -> Any:
    row = await EndpointRepository(session).get(principal.tenant_id, endpoint_id, lock=lock)
    if row is None:
        raise not_found("endpoint")
    return row


async def endpoints_page(
    session: AsyncSession, principal: Principal, after: tuple[datetime, str] | None, limit: int
) -> list[Any]:
    return await EndpointRepository(session).page(principal.tenant_id, after, limit)


async def update(
    session: AsyncSession,
    principal: Principal,
    endpoint_id: str,
    changes: dict[str, Any],
    now: datetime,
    policy: Policy,
    resolve: Resolver,
) -> Any:
    row = await endpoint(session, principal, endpoint_id, lock=True)
    values: dict[str, Any] = {"updated_at": now}
    if "url" in changes:
        await check_url(changes["url"], policy, resolve)
        values["url"] = changes["url"]
    if "description" in changes:
        values["description"] = changes["description"]
    if "event_types" in changes:
        values["event_types"] = check_patterns(changes["event_types"])
    if "rate_limit_per_s" in changes:  # null: no limit from now on
        values["rate_limit_per_s"] = changes["rate_limit_per_s"]
    if "enabled" in changes and changes["enabled"] != row.enabled:
        values["enabled"] = changes["enabled"]
        # Enabled again: a fresh start (its failures no longer count toward disabling it).
        values["disabled_reason"] = None if changes["enabled"] else "by an operator"
        values["failing_since"] = None
    repo = EndpointRepository(session)
    await repo.update(principal.tenant_id, endpoint_id, **values)
    return await repo.get(principal.tenant_id, endpoint_id)


async def delete(session: AsyncSession, principal: Principal, endpoint_id: str) -> None:
    """The endpoint, its messages and their log; their timers find nothing and stop."""
    await endpoint(session, principal, endpoint_id, lock=True)
    await EndpointRepository(session).delete(principal.tenant_id, endpoint_id)


async def rotate(
    session: AsyncSession, principal: Principal, endpoint_id: str, now: datetime, policy: Policy
) -> Any:
    """A new secret signs from now on; the old one also signs during the overlap."""
    row = await endpoint(session, principal, endpoint_id, lock=True)
    repo = EndpointRepository(session)
    await repo.update(
        principal.tenant_id,
        endpoint_id,
        secret=domain.new_secret(),
        previous_secret=row.secret,
        previous_secret_until=now + policy.rotation_overlap,
        updated_at=now,
    )
    return await repo.get(principal.tenant_id, endpoint_id)


# --- messages ------------------------------------------------------------------------------


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


# --- attempts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """What the dispatcher needs to send one attempt, read in one short transaction."""

    delivery_id: int
    attempt: int
    tenant_id: str
    endpoint_id: str
    url: str
    message_id: str
    body: str
    secrets: list[str]
    # The attempt's slot (its endpoint's rate limit): the dispatcher starts it no earlier.
    not_before: datetime | None = None
    rate_limit_per_s: float | None = None


@dataclass(frozen=True)
class Outcome:
    status_code: int | None = None
    error: str | None = None
    latency_ms: int = 0
    excerpt: str = ""
    retry_after: timedelta | None = None


async def claim(
    session: AsyncSession,
    delivery_id: int,
    now: datetime,
    policy: Policy,
    reserved: datetime | None = None,
) -> Job | None:
    """The attempt timer: mark the message sending and arm the lease timer; what to send
    (handed to the dispatcher once this commits), or None when there is nothing to send.
    For an endpoint with a rate limit, a slot is reserved (unless the timer holds one,
    ``reserved``); a slot beyond the horizon moves the attempt timer to it instead."""
    repo = DeliveryRepository(session)
    row = await repo.get(delivery_id, lock=True)
    if row is None or row.status != "pending":
        return None
    if await repo.earlier_open(row):
        await repo.update(row.id, status="waiting", next_attempt_at=None)
        return None
    endpoints = EndpointRepository(session)
    target = await endpoints.get(row.tenant_id, row.endpoint_id)
    if target is None or not target.enabled:
        await _finish(session, row, "failed", now, None)
        return None
    slot = reserved or now
    if target.rate_limit_per_s and reserved is None:
        next_free = (await endpoints.lock_next_send([target.id])).get(target.id)
        slot, after = domain.reserve(next_free, now, target.rate_limit_per_s)
        await endpoints.set_next_send(target.id, after)
        if not domain.goes_now(slot, now):
            await repo.update(row.id, next_attempt_at=slot)
            payload = {"delivery_id": row.id, "slot": slot.isoformat()}
            await timers.schedule(session, SLOT_TIMER, str(row.id), slot, payload)
            return None
    attempt = int(row.attempts) + 1
    await repo.update(row.id, status="sending", attempts=attempt, next_attempt_at=None)
    lease = {"delivery_id": row.id, "attempt": attempt}
    start = max(slot, now)
    await timers.schedule(
        session, LEASE_TIMER, str(row.id), start + policy.timeout + LEASE_MARGIN, lease
    )
    keys = domain.signing_secrets(
        target.secret, target.previous_secret, target.previous_secret_until, now
    )
    return Job(
        row.id,
        attempt,
        row.tenant_id,
        row.endpoint_id,
        target.url,
        row.message_id,
        row.body,
        keys,
        not_before=start,
        rate_limit_per_s=target.rate_limit_per_s,
    )


async def record(
    session: AsyncSession,
    delivery_id: int,
    attempt: int,
    outcome: Outcome,
    now: datetime,
    policy: Policy,
) -> None:
    """Write an attempt's outcome, once (a stale one, whose lease another took, is dropped)."""
    repo = DeliveryRepository(session)
    row = await repo.get(delivery_id, lock=True)
    if row is None or row.status != "sending" or row.attempts != attempt:
        return
    await repo.add_attempt(_attempt_row(row, outcome, now))
    await timers.cancel(session, LEASE_TIMER, str(row.id))
    endpoints = EndpointRepository(session)
    if domain.delivered(outcome.status_code):
        await endpoints.recovered(row.tenant_id, row.endpoint_id)
        await _finish(session, row, "delivered", now, outcome.status_code)
        return
    target = await endpoints.get(row.tenant_id, row.endpoint_id, lock=True)
    delay = domain.next_delay(attempt, outcome.retry_after)
    if target is not None:
        failing_since = target.failing_since or now
        if target.failing_since is None:
            await endpoints.update(row.tenant_id, row.endpoint_id, failing_since=now)
        if target.enabled and domain.should_disable(failing_since, now, policy.disable_after):
            await endpoints.update(
                row.tenant_id,
                row.endpoint_id,
                enabled=False,
                disabled_reason="failing",
                updated_at=now,
            )
            await add_event(session, events.endpoint_disabled(target, failing_since, now))
            delay = None
    if delay is None or target is None:
        await _finish(session, row, "failed", now, outcome.status_code)
        return
    await repo.update(
        row.id, status="pending", next_attempt_at=now + delay, last_status_code=outcome.status_code
    )
    payload = {"delivery_id": row.id}
    await timers.schedule(session, ATTEMPT_TIMER, str(row.id), now + delay, payload)


async def record_many(
    session: AsyncSession,
    outcomes: Sequence[tuple[int, int, Outcome]],
    now: datetime,
    policy: Policy,
) -> None:
    """``record`` for many outcomes in one transaction: the delivered ones (the usual case)
    in a few statements for all of them, the others one by one."""
    repo = DeliveryRepository(session)
    rows = {row.id: row for row in await repo.get_many([d for d, _, _ in outcomes], lock=True)}
    current = [
        (rows[d], a, o)
        for d, a, o in outcomes
        if d in rows and rows[d].status == "sending" and rows[d].attempts == a
    ]
    done = [(row, o) for row, _, o in current if domain.delivered(o.status_code)]
    for row, attempt, outcome in current:
        if not domain.delivered(outcome.status_code):
            await record(session, row.id, attempt, outcome, now, policy)
    if not done:
        return
    await repo.add_attempts([_attempt_row(row, outcome, now) for row, outcome in done])
    await repo.cancel_timers(LEASE_TIMER, [str(row.id) for row, _ in done])
    await EndpointRepository(session).recovered_many({row.endpoint_id for row, _ in done})
    by_code: dict[int, list[int]] = defaultdict(list)
    for row, outcome in done:
        by_code[int(outcome.status_code or 0)].append(row.id)
    for code, ids in by_code.items():
        await repo.finish_many(ids, "delivered", now, code)
    ordered = {(row.endpoint_id, row.order_key) for row, _ in done if row.order_key is not None}
    following = await repo.next_waiting_many(ordered)
    if following:
        await repo.release(following, now)
        for delivery_id in following:  # a message sent before may have a fired timer row
            payload = {"delivery_id": delivery_id}
            await timers.schedule(session, ATTEMPT_TIMER, str(delivery_id), now, payload)


def _attempt_row(row: Any, outcome: Outcome, now: datetime) -> dict[str, Any]:
    return {
        "tenant_id": row.tenant_id,
        "endpoint_id": row.endpoint_id,
        "delivery_id": row.id,
        "attempted_at": now,
        "status_code": outcome.status_code,
        "error": outcome.error[:500] if outcome.error else None,
        "latency_ms": outcome.latency_ms,
        "response_excerpt": outcome.excerpt,
    }


async def lease_expired(
    session: AsyncSession, payload: dict[str, Any], now: datetime, policy: Policy
) -> None:
    """The process sending this attempt died (or hung): the attempt counts as failed and the
    message is retried on the schedule."""
    outcome = Outcome(error="interrupted: no answer was recorded for this attempt")
    await record(
        session, int(payload["delivery_id"]), int(payload["attempt"]), outcome, now, policy
    )


async def _finish(
    session: AsyncSession, row: Any, status: str, now: datetime, status_code: int | None
) -> None:
    """Delivered or failed for good: the next message of the same member may go."""
    repo = DeliveryRepository(session)
    await repo.update(
        row.id,
        status=status,
        finished_at=now,
        next_attempt_at=None,
        last_status_code=status_code if status_code is not None else row.last_status_code,
    )
    if row.order_key is None:
        return
    following = await repo.next_waiting(row.endpoint_id, row.order_key)
    if following is not None:
        await repo.update(following, status="pending", next_attempt_at=now)
        await timers.schedule(
            session, ATTEMPT_TIMER, str(following), now, {"delivery_id": following}
        )
