"""Consumers feeding referral campaigns from onboarding's membership events: an
activation with an inviter is an invited join; a refund takes it back. Idempotent through
the inbox; the invitee's events come in order (onboarding keys them by member)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from activities.members.events import PREFIX, moment
from activities.referrals import service
from activities.referrals.domain import Join
from servicekit.events import Event

ACTIVATED = PREFIX + "activated.v1"
REFUNDED = PREFIX + "refunded.v1"


def _when(value: Any) -> datetime | None:
    return None if value in (None, "") else moment(value)


async def on_activated(session: AsyncSession, event: Event) -> None:
    data = event.data
    source = data.get("source") or {}
    inviter = source.get("inviter_id") if isinstance(source, dict) else None
    if not inviter:
        return
    window = _when(data.get("refund_window_ends_at"))
    join = Join(
        membership_id=str(data["membership_id"]),
        member_id=str(data["member_id"]),
        inviter_id=str(inviter),
        activated_at=moment(data["activated_at"]),
        channel=source.get("channel"),
        paid=window is not None,  # a paid join has a refund window; open and trial ones none
        window_ends_at=window,
    )
    await service.joined(session, event.tenant_id, str(data["community_id"]), join)


async def on_refunded(session: AsyncSession, event: Event) -> None:
    data = event.data
    await service.refunded(
        session, event.tenant_id, str(data["membership_id"]), moment(data["refunded_at"])
    )
