"""The export's consumer (group ``integrations.exports``) and timers. Idempotent through the
inbox, order-tolerant through the folds; the runner owns the transaction."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from integrations import clock
from integrations.exports import facts, service
from servicekit.consumer import Batched, BatchHandler
from servicekit.events import Event
from servicekit.timers import Timer, TimerHandler

TOPICS = ("onboarding.members", "onboarding.memberships", "rewards.points", "gateway.tenants")


async def on_members(session: AsyncSession, batch: Sequence[Event]) -> None:
    await service.apply_member_events(session, batch, clock.now_of(session))


async def on_memberships(session: AsyncSession, batch: Sequence[Event]) -> None:
    await service.apply_membership_events(session, batch, clock.now_of(session))


async def on_tenants(session: AsyncSession, batch: Sequence[Event]) -> None:
    for event in batch:
        await service.apply_tenant_event(session, event, clock.now_of(session))


def handlers() -> dict[str, Batched]:
    """Every event type the export reads, to its batched handler."""
    table: dict[str, BatchHandler] = {
        **dict.fromkeys(facts.MEMBER_FACTS, on_members),
        **dict.fromkeys(facts.MEMBERSHIP_FACTS, on_memberships),
        facts.TENANT_CREATED: on_tenants,
        facts.TENANT_UPDATED: on_tenants,
    }
    return {event_type: Batched(handle) for event_type, handle in table.items()}


async def on_nightly(session: AsyncSession, timer: Timer) -> None:
    await service.on_nightly(session, timer, clock.now_of(session))


async def on_build(session: AsyncSession, timer: Timer) -> None:
    await service.on_build(session, timer, clock.now_of(session))


TIMERS: dict[str, TimerHandler] = {
    service.NIGHTLY_TIMER: on_nightly,
    service.BUILD_TIMER: on_build,
}
