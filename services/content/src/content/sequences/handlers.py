"""Consumers of onboarding's and insights' events for sequences (group
``content.sequences``): a welcome or an activation starts newcomer runs, a silence starts
reactivation runs (never for a held-out member), a return stops them, and a leave,
removal or refund stops every run of the membership."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from content.audience.events import ACTIVATED, LEFT, REFUNDED, REMOVED, moment
from content.sequences import service
from content.sequences.domain import Trigger
from servicekit.consumer import Batched, Handler
from servicekit.events import Event
from servicekit.types import utcnow

WELCOMED = "quanzi.onboarding.member.welcomed.v1"
WENT_SILENT = "quanzi.insights.member.went_silent.v1"
REACTIVATED = "quanzi.insights.member.reactivated.v1"


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


async def on_silent(session: AsyncSession, events: Sequence[Event]) -> None:
    silences = [
        service.Silence(
            tenant_id=event.tenant_id,
            member_id=str(event.data["member_id"]),
            community_id=str(event.data["community_id"]),
            silent_since=moment(event.data["silent_since"]),
            held_out=bool(event.data["held_out"]),
        )
        for event in events
    ]
    await service.start_silent(session, silences, utcnow())


async def on_reactivated(session: AsyncSession, event: Event) -> None:
    data = event.data
    await service.end_on_return(
        session,
        event.tenant_id,
        str(data["member_id"]),
        str(data["community_id"]),
        moment(data["reactivated_at"]),
    )


HANDLERS: dict[str, Handler | Batched] = {
    WELCOMED: _starter(Trigger.WELCOMED, "welcomed_at"),
    ACTIVATED: _starter(Trigger.ACTIVATED, "activated_at"),
    LEFT: _stopper("left", "left_at"),
    REMOVED: _stopper("removed", "removed_at"),
    REFUNDED: _stopper("refunded", "refunded_at"),
    WENT_SILENT: Batched(on_silent),
    REACTIVATED: on_reactivated,
}
