"""Attempts: ``claim`` (the attempt timer) marks a delivery sending and arms a lease timer;
the dispatcher sends it outside any transaction and ``record`` writes the outcome: delivered,
or the next attempt's timer on the retry schedule, or failed. A process killed mid-send
leaves the lease timer, which records the attempt as interrupted and retries it: at least
once."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from integrations import events
from integrations.webhooks import domain
from integrations.webhooks.endpoints import Policy
from integrations.webhooks.repository import DeliveryRepository, EndpointRepository
from servicekit import timers
from servicekit.outbox import add_event

ATTEMPT_TIMER = "integrations.webhook.attempt"
LEASE_TIMER = "integrations.webhook.lease"
# An attempt waiting for the slot it holds (its endpoint's rate limit). A kind of its own:
# a timer re-armed by its own handler would be marked fired after it.
SLOT_TIMER = "integrations.webhook.slot"
LEASE_MARGIN = timedelta(seconds=60)


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
