"""Badge use cases: counting events and levels towards badges, and the rules' upkeep.

The consumer path calls ``evaluate`` after the earning rules, in the same transaction,
with the same events: badge rules are found by event type, so a new producer's events
need new rules, not code. Each occurrence counts at most once: its key
(``BadgeRule.occurrence_key``, the event id and the rule) is written to ``badge_marks``
with the progress it advanced, the way the ledger's entry keys make credits once-only.
Level rules are checked for the members whose points changed, against their level now.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rewards import events
from rewards.badges.domain import (
    BadgeRule,
    Criterion,
    Progress,
    default_badge_rules,
    observe,
    observe_level,
)
from rewards.badges.repository import After, BadgeRepository, MemberBadge, Pair, RuleRow
from rewards.points.repository import PointsRepository
from rewards.zones.service import zones_of
from servicekit.db import read_only, transaction
from servicekit.events import Event
from servicekit.outbox import add_events
from servicekit.problems import Problem, not_found
from servicekit.types import utcnow

MAX_ACTIVE_RULES = 200  # per tenant: every event of a type is checked against its rules
MAX_KEY = 300  # badge_marks.key


# ------------------------------------------------------------------ counting


async def set_up_tenant(session: AsyncSession, tenant_id: str) -> None:
    """Default badge rules, written the first time they are needed (like the earning rules:
    tenants older than badges get them too)."""
    await BadgeRepository(session).set_up(tenant_id, default_badge_rules(), utcnow())


@dataclass(frozen=True)
class _Occurrence:
    event: Event
    rule: BadgeRule
    member_id: str
    key: str


async def evaluate(
    session: AsyncSession, tenant_id: str, batch: Sequence[Event], level_members: Sequence[str]
) -> None:
    """Count a tenant's events (in order) towards their badge rules and check the level
    rules of ``level_members``; write progress, marks and ``badge.awarded`` events. A few
    statements whatever the batch's size."""
    repo = BadgeRepository(session)
    await set_up_tenant(session, tenant_id)
    rules = await repo.active_rules(tenant_id, {event.type for event in batch})
    occurrences = await _new_occurrences(repo, tenant_id, batch, rules)
    level_rules = [rule for rule in rules if rule.criterion is Criterion.LEVEL]
    levels = await PointsRepository(session).levels(tenant_id, level_members) if level_rules else {}
    level_pairs = [
        (member, rule)
        for member, level in levels.items()
        for rule in level_rules
        if level >= rule.threshold
    ]
    pairs = {(o.member_id, o.rule.rule_id) for o in occurrences}
    pairs |= {(member, rule.rule_id) for member, rule in level_pairs}
    if not pairs:
        return
    now = utcnow()
    zones = await zones_of(session, tenant_id)  # streaks count the rule's local days
    progress = await repo.progress_locked(tenant_id, sorted(pairs), now)
    changed: dict[Pair, Progress] = {}
    awarded: list[Event] = []
    counted: list[str] = []
    for o in occurrences:  # in event order
        pair = (o.member_id, o.rule.rule_id)
        before = progress[pair]
        if not o.rule.repeatable and before.times:
            continue  # earned for good: nothing to count, nothing to mark
        step = observe(o.rule, before, o.event.time, zones.of(o.rule.community_id))
        counted.append(o.key)
        progress[pair] = changed[pair] = step.progress
        if step.awarded:
            times = step.progress.times
            awarded.append(
                events.badge_awarded(tenant_id, o.member_id, o.rule, times, o.event.time, o.event)
            )
    for member, rule in level_pairs:
        pair = (member, rule.rule_id)
        step = observe_level(rule, progress[pair], levels[member], now)
        if step.awarded:
            progress[pair] = changed[pair] = step.progress
            awarded.append(events.badge_awarded(tenant_id, member, rule, 1, now, None))
    await repo.insert_marks(tenant_id, counted, now)
    await repo.save_progress(tenant_id, changed, now)
    await add_events(session, awarded)


async def _new_occurrences(
    repo: BadgeRepository, tenant_id: str, batch: Sequence[Event], rules: Sequence[BadgeRule]
) -> list[_Occurrence]:
    """What each event counts for, less what an earlier delivery already counted."""
    found: dict[str, _Occurrence] = {}
    for event in batch:
        for rule in rules:
            member = rule.member_for(event.type, event.data)
            if member is not None:
                key = _bounded(rule.occurrence_key(event.id, event.data))
                found.setdefault(key, _Occurrence(event, rule, member, key))
    done = await repo.existing_marks(tenant_id, list(found))
    return [o for key, o in found.items() if key not in done]


def _bounded(key: str) -> str:
    """Keys fit the column: a long one (a long once_per value) is replaced by its hash."""
    if len(key) <= MAX_KEY:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


async def check_levels(session: AsyncSession, tenant_id: str, member_ids: Sequence[str]) -> None:
    """Level rules for members whose points changed outside the consumer (adjustments)."""
    await evaluate(session, tenant_id, [], member_ids)


# ---------------------------------------------------------------- operators


async def ensure_set_up(sessions: async_sessionmaker[AsyncSession], tenant_id: str) -> None:
    """Before reading a tenant's rules: write the defaults if no event did yet."""
    async with read_only(sessions) as session:
        if await BadgeRepository(session).is_set_up(tenant_id):
            return
    async with transaction(sessions) as session:
        await set_up_tenant(session, tenant_id)


async def create_rule(session: AsyncSession, tenant_id: str, draft: dict[str, Any]) -> RuleRow:
    repo = BadgeRepository(session)
    await set_up_tenant(session, tenant_id)
    await repo.lock_tenant(tenant_id)
    await _check_room(repo, tenant_id)
    rule = _parse({**draft, "rule_id": str(uuid.uuid4())})
    now = utcnow()
    await repo.insert_rule(tenant_id, rule, now)
    return RuleRow(rule.rule_id, tenant_id, rule, False, now, now)


async def update_rule(
    session: AsyncSession, tenant_id: str, rule_id: str, changes: dict[str, Any]
) -> RuleRow:
    """Change what the rule awards, not what it counts (criterion, event type, beneficiary
    and once_per are fixed: the stored progress would mean something else). Progress is
    kept: a lower threshold awards at the member's next qualifying event."""
    repo = BadgeRepository(session)
    await set_up_tenant(session, tenant_id)  # the defaults can be changed before any event
    await repo.lock_tenant(tenant_id)
    current = await repo.rule(tenant_id, rule_id, lock=True)
    if current is None:
        raise not_found("badge rule")
    archived = bool(changes.pop("archived", current.archived))
    if current.archived and not archived:
        await _check_room(repo, tenant_id)
    rule = _parse({**current.rule.to_dict(), **changes})
    now = utcnow()
    await repo.update_rule(tenant_id, rule, archived, now)
    return RuleRow(rule_id, tenant_id, rule, archived, current.created_at, now)


async def _check_room(repo: BadgeRepository, tenant_id: str) -> None:
    if await repo.count_active(tenant_id) >= MAX_ACTIVE_RULES:
        raise Problem(
            409,
            "too-many-badge-rules",
            "Too many badge rules",
            f"at most {MAX_ACTIVE_RULES} active badge rules: archive one first",
        )


def _parse(raw: dict[str, Any]) -> BadgeRule:
    try:
        return BadgeRule.from_dict(raw)
    except (ValueError, TypeError) as error:
        raise Problem(422, "invalid-badge-rule", "Invalid badge rule", str(error)) from error


# ------------------------------------------------------------------- reads


@dataclass(frozen=True)
class MemberBadges:
    member_id: str
    level: int
    titles: list[str]  # of the badges held, the most recently awarded first
    badges: list[MemberBadge]  # ``limit + 1``


async def rules_page(
    session: AsyncSession, tenant_id: str, *, after: After, limit: int, archived: bool | None
) -> list[RuleRow]:
    """After ``ensure_set_up``."""
    return await BadgeRepository(session).rules_page(
        tenant_id, after=after, limit=limit, archived=archived
    )


async def rule(session: AsyncSession, tenant_id: str, rule_id: str) -> RuleRow:
    """After ``ensure_set_up``."""
    found = await BadgeRepository(session).rule(tenant_id, rule_id)
    if found is None:
        raise not_found("badge rule")
    return found


async def member_badges(
    session: AsyncSession,
    tenant_id: str,
    member_id: str,
    *,
    after: After,
    limit: int,
    earned_only: bool,
    must_exist: bool,
) -> MemberBadges:
    """Earned badges and progress towards the others (after ``ensure_set_up``);
    ``must_exist``: a member unknown to the tenant (no points, no progress) is a 404, as
    in the points summary."""
    repo, points = BadgeRepository(session), PointsRepository(session)
    if must_exist and not await _member_known(repo, points, tenant_id, member_id):
        raise Problem(404, "not-found", "Not Found", "no such member in this tenant")
    page = await repo.member_badges_page(
        tenant_id, member_id, after=after, limit=limit, earned_only=earned_only
    )
    level = (await points.levels(tenant_id, [member_id])).get(member_id, 1)
    titles = await repo.titles(tenant_id, member_id)
    held = [title for title, _ in sorted(titles, key=_newest_first)]
    return MemberBadges(member_id, level, list(dict.fromkeys(held)), page)


async def _member_known(
    repo: BadgeRepository, points: PointsRepository, tenant_id: str, member_id: str
) -> bool:
    """The member has points or badge progress in this tenant."""
    if await points.has_wallet(tenant_id, member_id):
        return True
    return await repo.has_progress(tenant_id, member_id)


def _newest_first(pair: tuple[str, datetime]) -> float:
    return -pair[1].timestamp()
