"""Use cases of recurring posts: make one from a template and an RRULE, stop it, and
publish each occurrence when its timer fires.

Each zone of the template's communities has its own chain of timers, one per occurrence
(key: id, zone, instant), because a fired timer's row is marked fired by its runner and
cannot be re-armed from its own handler. An occurrence goes out once: its run row is
inserted (``INSERT … ON CONFLICT DO NOTHING``) in the transaction that publishes the post
and schedules the next timer, so a crash, a second replica or a repeated timer finds the
row and does nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from content.audience.repository import AudienceRepository
from content.audience.service import require_communities
from content.posts import service as posts
from content.posts.domain import Invalid, check_post
from content.posts.repository import Row
from content.posts.schemas import PostIn
from content.recurring.domain import (
    by_zone,
    check_start,
    next_occurrence,
    parse_rule,
    resume_after,
)
from content.recurring.repository import RecurringRepository
from content.schedules.domain import Refused
from content.schedules.service import refused
from servicekit import timers
from servicekit.auth import Principal
from servicekit.problems import Problem, not_found

TIMER = "content.recurring"
ACTIVE, STOPPED = "active", "stopped"


async def create(
    session: AsyncSession,
    principal: Principal,
    body: PostIn,
    rule_text: str,
    start: datetime,
    now: datetime,
) -> Row:
    draft = body.draft()
    try:
        check_post(draft.kind, draft.body, draft.media, draft.link)
    except Invalid as error:
        raise posts.invalid(error) from error
    if draft.audience.tenant_wide:
        raise Problem(
            422,
            "recurring-needs-communities",
            "Invalid audience",
            "a recurring post is read in its communities' wall clock: give community_ids",
        )
    await require_communities(session, principal.tenant_id, draft.audience.community_ids)
    found = await AudienceRepository(session).timezones(
        principal.tenant_id, draft.audience.community_ids
    )
    try:
        rule = parse_rule(rule_text, start)
        check_start(start, now)
        zones = by_zone(found)
        first = {zone: next_occurrence(rule, ZoneInfo(zone), now) for zone in zones}
    except Refused as error:
        raise refused(error) from error
    except (OverflowError, ValueError) as error:  # a start near year 1 or 9999
        raise refused(Refused("time-out-of-range", "the start is out of range")) from error
    if not any(first.values()):
        raise refused(Refused("rrule-ended", "the rule has no occurrence after now"))
    recurring_id = str(uuid.uuid4())
    values = {
        "id": recurring_id,
        "tenant_id": principal.tenant_id,
        "state": ACTIVE,
        "rule": rule_text.strip(),
        "start": start.isoformat(),
        "zones": zones,
        "draft": body.model_dump(mode="json"),
        "created_by": principal.subject,
        "created_at": now,
        "updated_at": now,
    }
    repo = RecurringRepository(session)
    await repo.add(values)
    for zone, at in first.items():
        if at is not None:
            await _arm(session, principal.tenant_id, recurring_id, zone, at)
    return await _get(repo, principal.tenant_id, recurring_id)


async def stop(
    session: AsyncSession, principal: Principal, recurring_id: str, now: datetime
) -> Row:
    """No more occurrences: the timers already armed fire and find it stopped."""
    repo = RecurringRepository(session)
    row = await _get(repo, principal.tenant_id, recurring_id)
    if row.state != ACTIVE:
        raise Problem(409, "recurring-stopped", "Already stopped", "it is stopped")
    await repo.stop(principal.tenant_id, recurring_id, now)
    return await _get(repo, principal.tenant_id, recurring_id)


async def get(session: AsyncSession, principal: Principal, recurring_id: str) -> Row:
    return await _get(RecurringRepository(session), principal.tenant_id, recurring_id)


def upcoming(row: Row, now: datetime, count: int) -> list[tuple[str, datetime]]:
    """The next ``count`` occurrences per zone (none once stopped): the operator's preview."""
    if row.state != ACTIVE:
        return []
    rule = parse_rule(row.rule, datetime.fromisoformat(row.start))
    found: list[tuple[str, datetime]] = []
    for zone in sorted(row.zones):
        at: datetime | None = now
        for _ in range(count):
            at = next_occurrence(rule, ZoneInfo(zone), at) if at else None
            if at is None:
                break
            found.append((zone, at))
    return sorted(found, key=lambda item: item[1])


async def publish_due(session: AsyncSession, timer: timers.Timer, now: datetime) -> None:
    tenant_id = str(timer.payload["tenant_id"])
    recurring_id, zone = str(timer.payload["recurring_id"]), str(timer.payload["zone"])
    occurrence = datetime.fromisoformat(str(timer.payload["occurrence"]))
    repo = RecurringRepository(session)
    row = await repo.get(tenant_id, recurring_id)
    if row is None or row.state != ACTIVE:
        return
    run = {
        "recurring_id": recurring_id,
        "zone": zone,
        "occurrence": occurrence,
        "tenant_id": tenant_id,
        "post_id": None,
        "failure": None,
        "created_at": now,
    }
    if not await repo.claim_run(run):
        return  # this occurrence went out already
    communities = frozenset(row.zones.get(zone) or ())
    draft = PostIn.model_validate(row.draft).draft()
    draft = replace(draft, audience=replace(draft.audience, community_ids=communities))
    author = Principal(tenant_id, row.created_by, frozenset({"content_officer"}), "access")
    try:
        async with session.begin_nested():
            post = await posts.create(session, author, draft, now)
        await repo.finish_run(recurring_id, zone, occurrence, post_id=post.id)
    except Problem as problem:  # e.g. a community no longer known: this one is skipped
        failure = f"{problem.slug}: {problem.detail}"[:500]
        await repo.finish_run(recurring_id, zone, occurrence, failure=failure)
    rule = parse_rule(row.rule, datetime.fromisoformat(row.start))
    following = next_occurrence(rule, ZoneInfo(zone), resume_after(occurrence, now))
    if following is not None:
        await _arm(session, tenant_id, recurring_id, zone, following)


async def _arm(
    session: AsyncSession, tenant_id: str, recurring_id: str, zone: str, at: datetime
) -> None:
    payload: dict[str, Any] = {
        "tenant_id": tenant_id,
        "recurring_id": recurring_id,
        "zone": zone,
        "occurrence": at.isoformat(),
    }
    await timers.schedule(session, TIMER, f"{recurring_id}|{zone}|{at.isoformat()}", at, payload)


async def page(
    session: AsyncSession, principal: Principal, after: tuple[datetime, str] | None, limit: int
) -> list[Row]:
    return await RecurringRepository(session).page(principal.tenant_id, after, limit)


async def runs(session: AsyncSession, recurring_id: str) -> list[Row]:
    return await RecurringRepository(session).runs(recurring_id)


async def _get(repo: RecurringRepository, tenant_id: str, recurring_id: str) -> Row:
    row = await repo.get(tenant_id, recurring_id)
    if row is None:
        raise not_found("recurring post")
    return row
