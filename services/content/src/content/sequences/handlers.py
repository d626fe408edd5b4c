"""Consumers of onboarding's events for newcomer sequences (group ``content.sequences``):
a welcome or an activation starts runs, a leave, removal or refund stops them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from content.audience.events import ACTIVATED, LEFT, REFUNDED, REMOVED, moment
from content.sequences import service
from content.sequences.domain import Trigger
from servicekit.consumer import Batched, Handler
from servicekit.events import Event

WELCOMED = "quanzi.onboarding.member.welcomed.v1"


def _starter(trigger: Trigger, at_field: str) -> Batched:
    async def handle(session: AsyncSession, events: Sequence[Event]) -> None:
        facts = [
            service.Start(
                tenant_id=event.tenant_id,
                trigger=trigger,
                membership_id=str(event.data["membership_id"]),
                member_id=str(event.data["member_id"]),
                community_id=str(event.data["community_id"]),
                tier=event.data.get("tier"),
                at=moment(event.data[at_field]),
            )
            for event in events
        ]
        await service.start(session, facts)

    return Batched(handle)


def _stopper(reason: str, at_field: str) -> Callable[[AsyncSession, Event], Awaitable[None]]:
    async def handle(session: AsyncSession, event: Event) -> None:
        data = event.data
        at = moment(data[at_field])
        await service.stop(session, event.tenant_id, str(data["membership_id"]), reason, at)

    return handle


HANDLERS: dict[str, Handler | Batched] = {
    WELCOMED: _starter(Trigger.WELCOMED, "welcomed_at"),
    ACTIVATED: _starter(Trigger.ACTIVATED, "activated_at"),
    LEFT: _stopper("left", "left_at"),
    REMOVED: _stopper("removed", "removed_at"),
    REFUNDED: _stopper("refunded", "refunded_at"),
}
