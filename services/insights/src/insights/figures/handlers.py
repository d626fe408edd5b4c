"""Consumers of every service's facts: membership events, engagement, points. Idempotent
through the inbox and, beneath it, the facts' unique keys; order-tolerant because every
figure is a function of the set of facts (see domain)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from insights.communities import service as communities
from insights.figures import domain
from insights.figures.events import facts_of
from insights.figures.repository import FactRepository
from insights.silence import service as silence
from servicekit.events import Event


async def on_facts(session: AsyncSession, events: Sequence[Event]) -> None:
    """A run of events of one type, tenant by tenant: the facts in three inserts, the
    memberships folded in one read and one write, the members' presences moved."""
    by_tenant: dict[str, list[domain.Fact]] = defaultdict(list)
    for event in events:
        by_tenant[event.tenant_id].extend(facts_of(event.type, event.data))
    repo = FactRepository(session)
    for tenant_id, facts in by_tenant.items():
        configs = await communities.configs(
            session, tenant_id, {f.community_id for f in facts}, ensure=True
        )
        zones = {community_id: config.zone for community_id, config in configs.items()}
        members = [f for f in facts if isinstance(f, domain.MemberFact)]
        engaged = [f for f in facts if isinstance(f, domain.Engagement)]
        await repo.add_member_facts(tenant_id, members, zones)
        await repo.add_engagements(tenant_id, engaged, zones)
        await repo.add_points(
            tenant_id, [f for f in facts if isinstance(f, domain.PointsEntry)], zones
        )
        states = await _fold_memberships(repo, tenant_id, members, zones)
        signs = [
            silence.Sign(
                state.community_id,
                state.member_id,
                "arrived" if state.active else "ended",
                state.status_at,
            )
            for state in states
            if state.status_at is not None
        ]
        signs += [silence.Sign(e.community_id, e.member_id, "seen", e.at) for e in engaged]
        await silence.apply(session, tenant_id, signs, configs=configs)


async def _fold_memberships(
    repo: FactRepository,
    tenant_id: str,
    facts: list[domain.MemberFact],
    zones: dict[str, ZoneInfo],
) -> list[domain.MembershipState]:
    """The memberships the facts touch: read at once, folded in order, written at once."""
    if not facts:
        return []
    known: dict[tuple[str, str], domain.MembershipState] = dict(
        await repo.memberships([(tenant_id, f.membership_id) for f in facts])
    )
    changed: dict[tuple[str, str], domain.MembershipState] = {}
    for fact in facts:
        key = (tenant_id, fact.membership_id)
        known[key] = changed[key] = domain.fold_membership(known.get(key), fact)
    await repo.save_memberships(changed, zones)
    return list(changed.values())
