"""Points' consumers: a refunded membership, or a trial that ended unpaid, reverses what
it credited, and so does content rejected after its approval; the release and expiry
timers of lots. Each runs inside the transaction its
runner owns."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from rewards.points.domain import MembershipOutcome
from rewards.points.ledger import Ledger
from rewards.points.service import reverse_caused, settle_memberships
from rewards.rules.sources import MEMBERSHIP_REFUNDED, forfeits, revoked_cause, withdrawn_cause
from servicekit import timers
from servicekit.events import Event
from servicekit.types import utcnow


async def on_membership_ended(session: AsyncSession, event: Event) -> None:
    """A refund, or a trial that ended unpaid (expired, left, removed, banned while a
    trial), takes back the points the membership earned; ends of a paid membership keep
    them. Recorded too, so that a late activation of it credits nothing."""
    if not forfeits(event.type, event.data):
        return
    membership_id = event.data.get("membership_id")
    if not isinstance(membership_id, str) or not membership_id:
        raise ValueError(f"{event.type} {event.id} has no membership_id")
    news = {membership_id: MembershipOutcome(forfeited=True)}
    await settle_memberships(session, event.tenant_id, news, _reason(event.type))


async def on_content_withdrawn(session: AsyncSession, event: Event) -> None:
    """A post or comment rejected after it was approved takes back what it earned (its
    approval and, for a post, its recommendation). Content keys both events by the
    author, so the rejection is read after the credits it reverses."""
    cause = withdrawn_cause(event.type, event.data)
    if cause is not None:
        what = "post" if "post.rejected" in event.type else "comment"
        await reverse_caused(session, event.tenant_id, [cause], f"{what} rejected after approval")


async def on_referral_revoked(session: AsyncSession, event: Event) -> None:
    """A referral tier no longer met (activities' clawback policy) takes back the points
    its grant credited. Activities keys both events by the inviter, so the revocation is
    read after the grant it reverses; a redelivery finds the lots reversed already."""
    cause = revoked_cause(event.type, event.data)
    if cause is not None:
        await reverse_caused(session, event.tenant_id, [cause], "referral tier revoked")


def _reason(event_type: str) -> str:
    if event_type == MEMBERSHIP_REFUNDED:
        return "membership refunded"
    what = event_type.removeprefix("quanzi.onboarding.membership.").removesuffix(".v1")
    return f"trial ended unpaid ({what})"


# ------------------------------------------------------------------- timers


async def release_due(session: AsyncSession, timer: timers.Timer) -> None:
    ledger = Ledger(session)
    lot_id = str(timer.payload["lot_id"])
    opened = await ledger.open_by_id(int(timer.payload["wallet_id"]), [lot_id])
    await ledger.save(opened, opened.wallet.release(lot_id, as_of(timer)))


async def expire_due(session: AsyncSession, timer: timers.Timer) -> None:
    ledger = Ledger(session)
    lot_id = str(timer.payload["lot_id"])
    opened = await ledger.open_by_id(int(timer.payload["wallet_id"]), [lot_id])
    await ledger.save(opened, opened.wallet.expire(lot_id, as_of(timer)))


def as_of(timer: timers.Timer) -> datetime:
    """A timer acts as of its due time: a runner that claimed it is never "too early"."""
    return max(utcnow(), timer.due_at)
