"""The term's timers: expiry at the term's end (moved by renewals) and renewal reminders
N calendar days before it, at the same local time in the community's zone. Scheduled
whenever a term starts or moves."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from onboarding import events
from onboarding.membership import states as machine
from onboarding.membership.repository import Repository
from onboarding.membership.states import Status
from onboarding.orm import Membership, RenewalReminder
from onboarding.payments.domain import DEFAULT_REMINDER_DAYS, UTC_ZONE, reminder_at, reminder_times
from onboarding.payments.repository import PaymentRepository
from servicekit.outbox import add_event
from servicekit.timers import Timer, schedule
from servicekit.types import utcnow

EXPIRY_TIMER = "membership.expiry"
REMINDER_TIMER = "membership.renewal_reminder"


async def schedule_expiry(session: AsyncSession, membership: Membership) -> None:
    assert membership.term_ends_at is not None
    payload = {"tenant_id": membership.tenant_id, "membership_id": membership.id}
    await schedule(session, EXPIRY_TIMER, membership.id, membership.term_ends_at, payload)
    await _schedule_reminders(session, membership)


async def _schedule_reminders(session: AsyncSession, membership: Membership) -> None:
    """Timers at term end − N days for the community's offsets still ahead; the ones armed
    for an earlier term end are dropped (and would do nothing anyway)."""
    term_end = membership.term_ends_at
    assert term_end is not None
    community = await Repository(session).community(membership.tenant_id, membership.community_id)
    offsets = community.renewal_reminder_days if community else list(DEFAULT_REMINDER_DAYS)
    zone = ZoneInfo(community.timezone) if community else UTC_ZONE
    await PaymentRepository(session).cancel_pending_timers(REMINDER_TIMER, f"{membership.id}:")
    for days in reminder_times(term_end, offsets, utcnow(), zone):
        payload = {
            "tenant_id": membership.tenant_id,
            "membership_id": membership.id,
            "days_before": days,
            "term_ends_at": term_end.isoformat(),
        }
        key = f"{membership.id}:{days}:{term_end.isoformat()}"
        due = reminder_at(term_end, days, zone)
        await schedule(session, REMINDER_TIMER, key, due, payload)


async def remind_renewal(session: AsyncSession, timer: Timer) -> None:
    """Timer: membership.renewal_due, if the member still holds a seat and the term still
    ends when the timer was armed for; once per membership, term end and offset."""
    payload = timer.payload
    repo = Repository(session)
    membership = await repo.membership(payload["tenant_id"], payload["membership_id"])
    if membership is None or not machine.holds_seat(Status(membership.status)):
        return
    armed_for = datetime.fromisoformat(payload["term_ends_at"])
    if membership.term_ends_at != armed_for:
        return  # renewed (or refunded and back) since: a newer timer reminds
    days = int(payload["days_before"])
    now = utcnow()
    sent = RenewalReminder(
        membership_id=membership.id,
        term_ends_at=armed_for,
        days_before=days,
        tenant_id=membership.tenant_id,
        sent_at=now,
    )
    if await PaymentRepository(session).insert_reminder_if_absent(sent):
        await add_event(session, events.membership_renewal_due(membership, days, now))
