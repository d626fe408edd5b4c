"""Use cases of scheduled posts: schedule, move, cancel (operators), and publish when the
timer fires. The timer is scheduled, moved or cancelled in the same transaction as the
schedule's row; both are touched timer first, in the order the runner takes them, so an
operator and a runner racing on one schedule wait for each other instead of deadlocking.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from content.audience.domain import zone_of
from content.audience.repository import AudienceRepository
from content.audience.service import require_communities
from content.posts import service as posts
from content.posts.domain import Invalid, check_post
from content.posts.repository import Row
from content.posts.schemas import PostIn
from content.posts.service import Draft
from content.schedules.domain import Refused, State, check_pending, check_publish_at, to_utc
from content.schedules.repository import ScheduleRepository
from servicekit import timers
from servicekit.auth import Principal
from servicekit.problems import Problem, not_found

TIMER = "content.schedule"


def refused(error: Refused) -> Problem:
    status = 409 if error.slug == "schedule-not-pending" else 422
    return Problem(status, error.slug, "Cannot schedule", error.detail)


async def audience_zone(session: AsyncSession, tenant_id: str, draft: Draft) -> str | None:
    """The zone a wall-clock time is read in: the communities' one zone, when they all
    share one that onboarding announced; None for tenant-wide posts or mixed zones."""
    if draft.audience.tenant_wide:
        return None
    zones = await AudienceRepository(session).timezones(tenant_id, draft.audience.community_ids)
    found = set(zones.values())
    return found.pop() if len(found) == 1 else None


async def _publish_time(
    session: AsyncSession, tenant_id: str, draft: Draft, when: datetime, now: datetime
) -> tuple[datetime, str | None]:
    zone = await audience_zone(session, tenant_id, draft)
    try:
        at = to_utc(when, zone_of(zone))
        check_publish_at(at, now)
    except Refused as error:
        raise refused(error) from error
    return at, zone


async def schedule(
    session: AsyncSession, principal: Principal, body: PostIn, when: datetime, now: datetime
) -> Row:
    """Check the post now (a broken one is refused today, not at 07:30 tomorrow)."""
    draft = body.draft()
    try:
        check_post(draft.kind, draft.body, draft.media, draft.link)
    except Invalid as error:
        raise posts.invalid(error) from error
    await require_communities(session, principal.tenant_id, draft.audience.community_ids)
    at, zone = await _publish_time(session, principal.tenant_id, draft, when, now)
    schedule_id = str(uuid.uuid4())
    values = {
        "id": schedule_id,
        "tenant_id": principal.tenant_id,
        "state": State.SCHEDULED.value,
        "publish_at": at,
        "timezone": zone,
        "draft": body.model_dump(mode="json"),
        "created_by": principal.subject,
        "created_at": now,
        "updated_at": now,
        "post_id": None,
        "failure": None,
    }
    repo = ScheduleRepository(session)
    await repo.add(values)
    await timers.schedule(session, TIMER, schedule_id, at, _payload(values))
    return await _get(repo, principal.tenant_id, schedule_id)


async def reschedule(
    session: AsyncSession, principal: Principal, schedule_id: str, when: datetime, now: datetime
) -> Row:
    repo = ScheduleRepository(session)
    row = await _get(repo, principal.tenant_id, schedule_id)
    _pending(row)
    draft = PostIn.model_validate(row.draft).draft()
    at, zone = await _publish_time(session, principal.tenant_id, draft, when, now)
    await timers.schedule(session, TIMER, row.id, at, _payload(row._mapping))
    if not await repo.move(row.tenant_id, row.id, publish_at=at, timezone=zone, updated_at=now):
        raise refused(Refused("schedule-not-pending", "the schedule was published or cancelled"))
    return await _get(repo, principal.tenant_id, schedule_id)


async def cancel(
    session: AsyncSession, principal: Principal, schedule_id: str, now: datetime
) -> Row:
    repo = ScheduleRepository(session)
    row = await _get(repo, principal.tenant_id, schedule_id)
    _pending(row)
    await timers.cancel(session, TIMER, row.id)
    if not await repo.move(row.tenant_id, row.id, state=State.CANCELLED.value, updated_at=now):
        raise refused(Refused("schedule-not-pending", "the schedule was published or cancelled"))
    return await _get(repo, principal.tenant_id, schedule_id)


async def page(
    session: AsyncSession,
    principal: Principal,
    state: State | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[Row]:
    repo = ScheduleRepository(session)
    return await repo.page(principal.tenant_id, state=state, after=after, limit=limit)


async def get(session: AsyncSession, principal: Principal, schedule_id: str) -> Row:
    return await _get(ScheduleRepository(session), principal.tenant_id, schedule_id)


async def publish_due(session: AsyncSession, timer: timers.Timer, now: datetime) -> None:
    """The timer fired: publish the post once. The state moves first, conditionally, so
    a second runner (or a redelivered timer) finds it published and does nothing. A post
    whose audience is gone by then is marked failed with the reason, not retried."""
    tenant_id, schedule_id = str(timer.payload["tenant_id"]), str(timer.payload["schedule_id"])
    repo = ScheduleRepository(session)
    if not await repo.move(tenant_id, schedule_id, state=State.PUBLISHED.value, updated_at=now):
        return
    row = await _get(repo, tenant_id, schedule_id)
    author = Principal(tenant_id, row.created_by, frozenset({"content_officer"}), "access")
    try:
        async with session.begin_nested():
            post = await posts.create(
                session, author, PostIn.model_validate(row.draft).draft(), now
            )
    except Problem as problem:
        failure = f"{problem.slug}: {problem.detail}"[:500]
        await repo.set(schedule_id, state=State.FAILED.value, failure=failure)
        return
    await repo.set(schedule_id, post_id=post.id)


def _pending(row: Row) -> None:
    try:
        check_pending(State(row.state))
    except Refused as error:
        raise refused(error) from error


async def _get(repo: ScheduleRepository, tenant_id: str, schedule_id: str) -> Row:
    row = await repo.get(tenant_id, schedule_id)
    if row is None:
        raise not_found("schedule")
    return row


def _payload(values: Any) -> dict[str, str]:
    return {"tenant_id": str(values["tenant_id"]), "schedule_id": str(values["id"])}
