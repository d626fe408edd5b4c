"""Referral campaigns' use cases. An inviter's standing is evaluated again whenever one of
their invitees joins, is refunded, or passes the refund window (a timer), and when an
operator clears their flags: the pure count, then the tiers settled, the progress row
(locked) and the events in the caller's transaction.

The evaluation time never goes back: it is the later of the trigger's time (the event's
or the timer's) and the last evaluation's, so a late event cannot undo what the passing of
a window already counted.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from activities import events
from activities.access import is_member
from activities.members.domain import may_take_part, zone
from activities.members.repository import MembersRepository
from activities.referrals import domain
from activities.referrals.repository import ReferralRepository
from servicekit import timers
from servicekit.auth import Principal
from servicekit.events import Event
from servicekit.outbox import add_events
from servicekit.problems import Problem, not_found

SETTLE_TIMER = "activities.referral.settle"  # a join's refund window is over


def campaign_of(row: Any) -> domain.Campaign:
    return domain.Campaign(
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        tiers=tuple(domain.Tier(t["invites"], t["points"], t["badge"]) for t in row.tiers),
        counting=domain.Counting(row.counting),
        channel=row.channel,
        daily_cap=row.daily_cap,
    )


def _relevant(campaign: domain.Campaign, joins: list[domain.Join]) -> bool:
    """Any join in the campaign's period (and channel): only then a progress row."""
    return any(
        campaign.starts_at <= j.activated_at < campaign.ends_at
        and (campaign.channel is None or j.channel == campaign.channel)
        for j in joins
    )


async def evaluate(
    session: AsyncSession, tenant_id: str, community_id: str, inviter_id: str, at: datetime
) -> None:
    repo = ReferralRepository(session)
    rows = await repo.of_community(tenant_id, community_id, at)
    joins = await repo.joins_of(tenant_id, community_id, inviter_id)
    relevant = [(r, c) for r in rows if _relevant(c := campaign_of(r), joins)]
    if not relevant:
        return
    known = await MembersRepository(session).community(tenant_id, community_id)
    tz = zone(known[0] if known else None)
    ancestors = domain.ancestors(
        await repo.invited_by(tenant_id, community_id, inviter_id), inviter_id
    )
    standing = await repo.progress_locked(tenant_id, [r.id for r, _ in relevant], inviter_id, at)
    published: list[Event] = []
    for row, campaign in relevant:
        progress = standing[row.id]
        now = max(at, progress.updated_at)
        found = domain.count(campaign, joins, ancestors, tz, now)
        converted = set(progress.converted)
        for number, join in enumerate(found.counted, start=1):
            if join.membership_id not in converted:
                converted.add(join.membership_id)
                published.append(events.referral_converted(row, join, number, now))
        granted = set(progress.granted)
        changes = domain.settle(
            campaign,
            found.total,
            granted,
            flagged=bool(found.flags),
            cleared=progress.cleared_at is not None,
        )
        grants = progress.grants
        for kind, tiers in (
            (events.REFERRAL_REVOKED, changes.revoke),
            (events.REFERRAL_TIER_REACHED, changes.grant),
        ):
            for tier in tiers:
                grants += 1
                published.append(
                    events.referral_tier(kind, row, inviter_id, tier, grants, found.total, now)
                )
        granted = (granted - set(changes.revoke)) | set(changes.grant)
        await repo.save_progress(
            tenant_id,
            row.id,
            inviter_id,
            counted=found.total,
            pending=found.pending,
            last_counted_at=found.counted[-1].activated_at if found.counted else None,
            converted=sorted(converted),
            granted=sorted(granted),
            grants=grants,
            flags=sorted(found.flags),
            updated_at=now,
        )
    await add_events(session, published)


async def joined(
    session: AsyncSession, tenant_id: str, community_id: str, join: domain.Join
) -> None:
    """An invited join (or its payment): recorded; counted when its window is over."""
    repo = ReferralRepository(session)
    await repo.save_join(tenant_id, community_id, join)
    if join.window_ends_at is not None:
        payload = {
            "tenant_id": tenant_id,
            "community_id": community_id,
            "inviter_id": join.inviter_id,
        }
        key = f"{tenant_id}:{join.membership_id}"
        await timers.schedule(session, SETTLE_TIMER, key, join.window_ends_at, payload)
    await evaluate(session, tenant_id, community_id, join.inviter_id, join.activated_at)
    # The join closes a cycle when the invitee is among the inviter's own inviters: every
    # edge of it stops counting, so each of those inviters is evaluated again.
    chain = domain.ancestors(
        await repo.invited_by(tenant_id, community_id, join.inviter_id), join.inviter_id
    )
    if join.member_id in chain:
        for member in sorted(chain - {join.inviter_id}):
            await evaluate(session, tenant_id, community_id, member, join.activated_at)


async def refunded(session: AsyncSession, tenant_id: str, membership_id: str, at: datetime) -> None:
    repo = ReferralRepository(session)
    row = await repo.join(tenant_id, membership_id)
    if row is None:  # not an invited join
        return
    await repo.refund(tenant_id, membership_id, at)
    await timers.cancel(session, SETTLE_TIMER, f"{tenant_id}:{membership_id}")
    await evaluate(session, tenant_id, row.community_id, row.inviter_id, at)


async def settle_due(session: AsyncSession, timer: timers.Timer) -> None:
    payload = timer.payload
    await evaluate(
        session,
        str(payload["tenant_id"]),
        str(payload["community_id"]),
        str(payload["inviter_id"]),
        timer.due_at,
    )


# --- the API's use cases ------------------------------------------------------------------


@dataclass(frozen=True)
class Draft:
    community_id: str
    title: str
    campaign: domain.Campaign


async def create(session: AsyncSession, principal: Principal, draft: Draft, now: datetime) -> Any:
    tenant_id = principal.tenant_id
    if await MembersRepository(session).community(tenant_id, draft.community_id) is None:
        raise Problem(404, "not-found", "Not Found", f"no such community: {draft.community_id}")
    campaign = draft.campaign
    if campaign.ends_at <= now:
        raise Problem(422, "invalid-campaign", "Invalid campaign", "ends_at must be in the future")
    campaign_id = str(uuid.uuid4())
    repo = ReferralRepository(session)
    await repo.add(
        {
            "id": campaign_id,
            "tenant_id": tenant_id,
            "community_id": draft.community_id,
            "title": draft.title,
            "starts_at": campaign.starts_at,
            "ends_at": campaign.ends_at,
            "counting": campaign.counting.value,
            "channel": campaign.channel,
            "daily_cap": campaign.daily_cap,
            "tiers": [
                {"invites": t.invites, "points": t.points, "badge": t.badge} for t in campaign.tiers
            ],
            "created_by": principal.subject,
            "created_at": now,
        }
    )
    if campaign.starts_at <= now:  # joins since its start count already
        for inviter in await repo.inviters(tenant_id, draft.community_id, campaign.starts_at):
            await evaluate(session, tenant_id, draft.community_id, inviter, now)
    return await repo.get(tenant_id, campaign_id)


async def readable(session: AsyncSession, principal: Principal, campaign_id: str) -> Any:
    row = await ReferralRepository(session).get(principal.tenant_id, campaign_id)
    if row is None:
        raise not_found("referral campaign")
    if is_member(principal):
        states = await MembersRepository(session).of_member(
            principal.tenant_id, principal.subject, row.community_id
        )
        if not may_take_part(states, row.community_id):
            raise not_found("referral campaign")
    return row


async def listed(session: AsyncSession, principal: Principal) -> list[Any]:
    repo = ReferralRepository(session)
    if not is_member(principal):
        return await repo.of_tenant(principal.tenant_id, None)
    seats = await MembersRepository(session).seats(principal.tenant_id, principal.subject)
    return await repo.of_tenant(
        principal.tenant_id, sorted({s.community_id for s in seats if s.active})
    )


async def progress(
    session: AsyncSession, principal: Principal, campaign_id: str, member_id: str
) -> tuple[Any, Any]:
    row = await readable(session, principal, campaign_id)
    found = await ReferralRepository(session).progress_of(principal.tenant_id, row.id, member_id)
    return row, found


async def leaderboard(
    session: AsyncSession, principal: Principal, campaign_id: str, limit: int
) -> tuple[Any, list[tuple[str, int]]]:
    row = await readable(session, principal, campaign_id)
    rows = await ReferralRepository(session).participants(principal.tenant_id, row.id, limit)
    return row, domain.rank((r.member_id, r.counted, r.last_counted_at) for r in rows)


async def participants(
    session: AsyncSession, principal: Principal, campaign_id: str, limit: int
) -> list[Any]:
    row = await readable(session, principal, campaign_id)
    return await ReferralRepository(session).participants(principal.tenant_id, row.id, limit)


async def clear(
    session: AsyncSession, principal: Principal, campaign_id: str, member_id: str, now: datetime
) -> Any:
    """An operator looked at a flagged participant: their withheld tiers are paid."""
    row = await readable(session, principal, campaign_id)
    repo = ReferralRepository(session)
    standing = await repo.progress_locked(principal.tenant_id, [row.id], member_id, now)
    if not standing[row.id].flags:
        raise Problem(409, "not-flagged", "Not flagged", "nothing to clear for this member")
    await repo.save_progress(principal.tenant_id, row.id, member_id, cleared_at=now)
    await evaluate(session, principal.tenant_id, row.community_id, member_id, now)
    return await repo.progress_of(principal.tenant_id, row.id, member_id)
