"""Use cases of the daily digest: each community's settings (its local time), a preview
of any day, and the timer that compiles and publishes a day's digest once.

A timer per community and local day (key: tenant, community, day) carries the instant it
was armed for; a timer left over from an earlier setting finds the instant changed and
does nothing. The day's row in ``digests`` is inserted in the transaction that publishes,
so a crash, a second replica or a repeated timer compiles a day once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from content import events
from content.audience.domain import Audience, zone_of
from content.audience.repository import AudienceRepository
from content.audience.service import require_communities
from content.digest.domain import Candidate, compose, day_bounds, next_run, rank
from content.digest.repository import DIGEST_AUTHOR, DigestRepository
from content.posts import service as posts
from content.posts.domain import PostKind
from content.posts.repository import Row
from content.schedules.domain import Refused, to_utc
from content.schedules.service import refused
from servicekit import timers
from servicekit.auth import Principal
from servicekit.outbox import add_event
from servicekit.problems import Problem

TIMER = "content.digest"


@dataclass(frozen=True)
class Preview:
    community_id: str
    day: date
    title: str
    body: str
    picked: list[Candidate]
    edited: bool = False
    published: bool = False


async def community_zone(session: AsyncSession, tenant_id: str, community_id: str) -> ZoneInfo:
    await require_communities(session, tenant_id, [community_id])
    found = await AudienceRepository(session).timezones(tenant_id, [community_id])
    zone = zone_of(found.get(community_id))
    if zone is None:
        raise Problem(
            422, "timezone-unknown", "No time zone", "onboarding announced no zone for it"
        )
    return zone


async def configure(
    session: AsyncSession,
    principal: Principal,
    community_id: str,
    at: time,
    enabled: bool,
    now: datetime,
) -> Row:
    zone = await community_zone(session, principal.tenant_id, community_id)
    repo = DigestRepository(session)
    await repo.save_settings(
        {
            "tenant_id": principal.tenant_id,
            "community_id": community_id,
            "local_time": at.strftime("%H:%M"),
            "enabled": enabled,
            "updated_by": principal.subject,
            "updated_at": now,
        }
    )
    if enabled:
        day, instant = next_run(at, zone, now)
        await _arm(session, principal.tenant_id, community_id, day, instant)
    row = await repo.settings(principal.tenant_id, community_id)
    assert row is not None
    return row


async def preview(
    session: AsyncSession, tenant_id: str, community_id: str, day: date | None, now: datetime
) -> Preview:
    zone = await community_zone(session, tenant_id, community_id)
    day = day or now.astimezone(zone).date()
    try:
        start, end = day_bounds(day, zone)
    except Refused as error:
        raise refused(error) from error
    repo = DigestRepository(session)
    picked = rank(await repo.candidates(tenant_id, community_id, start, end))
    title, body = compose(day, picked)
    edit = await repo.edit(tenant_id, community_id, day.isoformat())
    if edit is not None:
        title, body = edit.title, edit.body
    done = await repo.compiled(tenant_id, community_id, day.isoformat())
    return Preview(community_id, day, title, body, picked, edit is not None, done)


async def edit(
    session: AsyncSession,
    principal: Principal,
    community_id: str,
    day: date,
    title: str,
    body: str,
    now: datetime,
) -> Preview:
    """The operator's text for a day's digest, published instead of the compiled one;
    409 once that day's digest went out."""
    await community_zone(session, principal.tenant_id, community_id)
    repo = DigestRepository(session)
    if await repo.compiled(principal.tenant_id, community_id, day.isoformat()):
        raise Problem(409, "digest-published", "Already published", "that day's digest went out")
    await repo.save_edit(
        {
            "tenant_id": principal.tenant_id,
            "community_id": community_id,
            "day": day.isoformat(),
            "title": title,
            "body": body,
            "updated_by": principal.subject,
            "updated_at": now,
        }
    )
    return await preview(session, principal.tenant_id, community_id, day, now)


async def publish_due(session: AsyncSession, timer: timers.Timer, now: datetime) -> None:
    tenant_id, community_id = str(timer.payload["tenant_id"]), str(timer.payload["community_id"])
    day, armed_for = date.fromisoformat(str(timer.payload["day"])), str(timer.payload["at"])
    repo = DigestRepository(session)
    setting = await repo.settings(tenant_id, community_id)
    zone_name = (await AudienceRepository(session).timezones(tenant_id, [community_id])).get(
        community_id
    )
    zone = zone_of(zone_name)
    if setting is None or not setting.enabled or zone is None:
        return
    at = time.fromisoformat(setting.local_time)
    instant = to_utc(datetime.combine(day, at), zone)
    if instant.isoformat() != armed_for:
        return  # armed under an earlier setting; the current one has its own timer
    claimed: dict[str, Any] = {
        "tenant_id": tenant_id,
        "community_id": community_id,
        "day": day.isoformat(),
        "post_id": None,
        "post_ids": [],
        "created_at": now,
    }
    if await repo.claim_day(claimed):
        await _publish(session, tenant_id, community_id, day, zone, now)
    following_day, following = next_run(at, zone, max(instant, now))
    await _arm(session, tenant_id, community_id, following_day, following)


async def _publish(
    session: AsyncSession,
    tenant_id: str,
    community_id: str,
    day: date,
    zone: ZoneInfo,
    now: datetime,
) -> None:
    start, end = day_bounds(day, zone)
    repo = DigestRepository(session)
    picked = rank(await repo.candidates(tenant_id, community_id, start, end))
    edited = await repo.edit(tenant_id, community_id, day.isoformat())
    if not picked and edited is None:
        return  # a quiet day: recorded, nothing posted
    title, body = (edited.title, edited.body) if edited is not None else compose(day, picked)
    author = Principal(tenant_id, DIGEST_AUTHOR, frozenset({"content_officer"}), "access")
    draft = posts.Draft(
        kind=PostKind.TEXT,
        title=title,
        body=body,
        media=(),
        link=None,
        audience=Audience(community_ids=frozenset({community_id})),
        tags=("日报",),
        pinned=False,
    )
    post = await posts.create(session, author, draft, now)
    ids = [c.post_id for c in picked]
    await repo.set_post(tenant_id, community_id, day.isoformat(), post.id, ids)
    await add_event(
        session,
        events.digest_published(tenant_id, community_id, day.isoformat(), post.id, ids, now),
    )


async def _arm(
    session: AsyncSession, tenant_id: str, community_id: str, day: date, at: datetime
) -> None:
    payload = {
        "tenant_id": tenant_id,
        "community_id": community_id,
        "day": day.isoformat(),
        "at": at.isoformat(),
    }
    key = f"{tenant_id}|{community_id}|{day.isoformat()}"
    await timers.schedule(session, TIMER, key, at, payload)
