"""Consumers of onboarding's events for newcomer sequences (group ``content.sequences``):
a welcome or an activation starts runs, a leave, removal or refund stops them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from content.audience.events import ACTIVATED, LEFT, REFUNDED, REMOVED, moment
from content.sequences import service
from content.sequences.domain import Trigger
from servicekit.events import Event

WELCOMED = "quanzi.onboarding.member.welcomed.v1"


def _starter(trigger: Trigger, at_field: str) -> Callable[[AsyncSession, Event], Awaitable[None]]:
    async def handle(session: AsyncSession, event: Event) -> None:
        data = event.data
        fact = service.Start(
            tenant_id=event.tenant_id,
            trigger=trigger,
            membership_id=str(data["membership_id"]),
            member_id=str(data["member_id"]),
            community_id=str(data["community_id"]),
            tier=data.get("tier"),
            at=moment(data[at_field]),
        )
        await service.start(session, fact)

    return handle


def _stopper(reason: str, at_field: str) -> Callable[[AsyncSession, Event], Awaitable[None]]:
    async def handle(session: AsyncSession, event: Event) -> None:
        data = event.data
        at = moment(data[at_field])
        await service.stop(session, event.tenant_id, str(data["membership_id"]), reason, at)

    return handle


HANDLERS = {
    WELCOMED: _starter(Trigger.WELCOMED, "welcomed_at"),
    ACTIVATED: _starter(Trigger.ACTIVATED, "activated_at"),
    LEFT: _stopper("left", "left_at"),
    REMOVED: _stopper("removed", "removed_at"),
    REFUNDED: _stopper("refunded", "refunded_at"),
}
