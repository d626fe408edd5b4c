"""Use cases of community rules (群规): versions, acceptance, and the grace period's end.

Publishing version N+1 asks every seated member to accept it within the grace period; the
``rules.grace_end`` timer then mutes, chunk by chunk, those who did not. Accepting lifts that
mute only (a sanction mute keeps running). Joining needs the current version accepted: the
entry gate (membership.service.check_entry) records it, through rules/acceptance.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from onboarding import events
from onboarding.audit import service as audit
from onboarding.ids import new_id
from onboarding.membership.repository import Repository
from onboarding.membership.service import settle_mute
from onboarding.orm import Community, CommunityRules, Membership
from onboarding.permissions import Permission, authorize, is_tenant_operator
from onboarding.problems import conflict
from onboarding.queries import After
from onboarding.rules.acceptance import accept_rules
from onboarding.rules.repository import RulesRepository
from servicekit.auth import Principal
from servicekit.db import read_only, transaction
from servicekit.outbox import add_event
from servicekit.problems import Problem, not_found
from servicekit.timers import Timer, schedule
from servicekit.types import utcnow

GRACE_TIMER = "rules.grace_end"
# Members muted per transaction when a grace period ends: a 10k-member community is worked
# through in short transactions (one timer each) instead of one that locks them all.
GRACE_CHUNK = 300


@dataclass(frozen=True)
class NewRules:
    text: str
    summary: str = ""
    grace_days: int = 7


@dataclass(frozen=True)
class Accepted:
    community_id: str
    version: int
    membership: Membership


@dataclass(frozen=True)
class PendingRules:
    """Rules a member still has to accept (and whether not accepting muted them already)."""

    membership: Membership
    community: Community
    rules: CommunityRules


class Rules:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def publish(
        self, principal: Principal, community_id: str, draft: NewRules
    ) -> CommunityRules:
        """Version N+1; every seated member re-accepts within ``grace_days``."""
        try:
            async with transaction(self.sessions) as session:
                return await _publish_in(session, principal, community_id, draft)
        except IntegrityError as error:  # two publications raced for the same version
            raise conflict(
                "rules-publish-conflict", "Published meanwhile", "another version was published"
            ) from error

    async def current(self, principal: Principal, community_id: str) -> CommunityRules:
        async with read_only(self.sessions) as session:
            community = await _visible(session, principal, community_id)
            if community.rules_version is None:
                raise not_found("rules")
            rules = await RulesRepository(session).rules_version(
                community.tenant_id, community.id, community.rules_version
            )
        assert rules is not None
        return rules

    async def history(
        self, principal: Principal, community_id: str, after: After | None, limit: int
    ) -> Sequence[CommunityRules]:
        async with read_only(self.sessions) as session:
            community = await _visible(session, principal, community_id)
            return await RulesRepository(session).rules_page(
                community.tenant_id, community.id, after, limit
            )

    async def accept(
        self, tenant_id: str, member_id: str, community_id: str, version: int
    ) -> Accepted:
        """The member accepts the current version: a rules mute ends (a sanction mute stays)."""
        async with transaction(self.sessions) as session:
            repo = Repository(session)
            community = await repo.community(tenant_id, community_id)
            membership = await repo.membership_of(tenant_id, community_id, member_id)
            if community is None or membership is None:
                raise not_found("membership")
            current = community.rules_version
            if current is None:
                raise conflict("no-rules", "No rules", "this community has no rules to accept")
            if version != current:
                raise Problem(
                    409,
                    "rules-version-stale",
                    "Not the current rules",
                    f"the current rules are version {current}",
                    current_version=current,
                )
            await accept_rules(session, community, member_id, version)
            if membership.rules_muted:
                membership.rules_muted = False
                await settle_mute(session, membership, utcnow(), cause="rules_accepted")
            return Accepted(community.id, version, membership)

    async def pending(self, tenant_id: str, member_id: str) -> list[PendingRules]:
        async with read_only(self.sessions) as session:
            rows = await RulesRepository(session).pending_rules(tenant_id, member_id)
        return [PendingRules(*row) for row in rows]


async def _visible(session: AsyncSession, principal: Principal, community_id: str) -> Community:
    """Operators see every community's rules; members those of public communities and of
    communities they belong to (others are 404, like another tenant's)."""
    repo = Repository(session)
    community = await repo.community(principal.tenant_id, community_id)
    if community is None:
        raise not_found("community")
    if principal.token_type == "member":
        mine = await repo.membership_of(principal.tenant_id, community_id, principal.subject)
        if community.visibility != "public" and mine is None:
            raise not_found("community")
    elif not is_tenant_operator(principal):
        raise Problem(403, "forbidden", "Forbidden", "operators and members only")
    return community


async def _publish_in(
    session: AsyncSession, principal: Principal, community_id: str, draft: NewRules
) -> CommunityRules:
    community = await Repository(session).community(principal.tenant_id, community_id)
    if community is None:
        raise not_found("community")
    actor = await authorize(session, principal, community_id, Permission.MANAGE_COMMUNITY)
    now = utcnow()
    rules = CommunityRules(
        id=new_id(),
        tenant_id=community.tenant_id,
        community_id=community.id,
        version=(community.rules_version or 0) + 1,
        text=draft.text,
        summary=draft.summary,
        grace_days=draft.grace_days,
        grace_ends_at=now + timedelta(days=draft.grace_days),
        published_by=actor.id,
        created_at=now,
    )
    session.add(rules)
    await session.flush()
    community.rules_version = rules.version
    await add_event(session, events.rules_published(rules))
    # Keyed by community: a newer version moves the timer, superseding the older grace end.
    payload = {"tenant_id": rules.tenant_id, "community_id": community.id, "version": rules.version}
    await _schedule_grace(session, payload, community.id, rules.grace_ends_at, chunk=0)
    await audit.record(
        session,
        community.tenant_id,
        actor,
        "rules.published",
        target_kind="community",
        target_id=community.id,
        community_id=community.id,
        reason=draft.summary or None,
        details={"version": rules.version, "grace_days": rules.grace_days},
    )
    return rules


async def _schedule_grace(
    session: AsyncSession, payload: dict[str, Any], key: str, due: datetime, *, chunk: int
) -> None:
    await schedule(session, GRACE_TIMER, key, due, {**payload, "chunk": chunk})


async def end_grace(session: AsyncSession, timer: Timer) -> None:
    """Timer: the grace period of a version ended; mute one chunk of members who did not
    accept it, then hand the rest to a follow-up timer. Firing twice mutes nobody twice; a
    newer version published meanwhile makes this one a no-op."""
    tenant_id = str(timer.payload["tenant_id"])
    community_id = str(timer.payload["community_id"])
    version = int(timer.payload["version"])
    community = await Repository(session).community(tenant_id, community_id)
    if community is None or community.rules_version != version:
        return  # superseded: the newer version has its own grace period
    repo = RulesRepository(session)
    chunk = await repo.not_accepted(tenant_id, community_id, version, GRACE_CHUNK)
    # Accepted while we waited for the row locks: the acceptance is not on the locked rows.
    accepted = await repo.accepted_among(
        tenant_id, community_id, version, [m.member_id for m in chunk]
    )
    now = utcnow()
    for membership in chunk:
        if membership.member_id not in accepted:
            await _mute_for_rules(session, membership, version, now)
    if len(chunk) == GRACE_CHUNK:
        number = int(timer.payload.get("chunk", 0)) + 1
        key = f"{community_id}:v{version}:{number}"
        await _schedule_grace(session, dict(timer.payload), key, now, chunk=number)


async def _mute_for_rules(
    session: AsyncSession, membership: Membership, version: int, now: datetime
) -> None:
    membership.rules_muted = True
    await settle_mute(session, membership, now)
    await audit.record(
        session,
        membership.tenant_id,
        audit.SYSTEM,
        "membership.rules_muted",
        target_kind="membership",
        target_id=membership.id,
        community_id=membership.community_id,
        reason=f"rules version {version} not accepted within the grace period",
        details={"member_id": membership.member_id, "version": version},
    )
