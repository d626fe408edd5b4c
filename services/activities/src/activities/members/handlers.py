"""Consumers of the membership projection. Idempotent through the inbox; order-tolerant
through ``fold`` (memberships) and event times (community zones)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from activities.members import domain
from activities.members.events import MEMBERSHIP_FACTS, level_fact, moment
from activities.members.repository import MembersRepository
from servicekit.events import Event
from servicekit.projection import fold_run


async def on_memberships(session: AsyncSession, events: Sequence[Event]) -> None:
    """A run of membership events: read in one statement, folded in order in memory,
    written in one statement."""
    repo = MembersRepository(session)
    await fold_run(
        events,
        key=lambda event: (event.tenant_id, str(event.data["membership_id"])),
        fact=lambda event: MEMBERSHIP_FACTS[event.type](event.data),
        fold=domain.fold,
        load=repo.memberships,
        save=repo.save_memberships,
    )


async def on_community(session: AsyncSession, event: Event) -> None:
    """created/updated: the community becomes known to its tenant, in its zone. An update
    without a zone keeps the known one; an older event never overwrites a newer zone."""
    data = event.data
    community_id = str(data["community_id"])
    at = moment(data.get("updated_at") or data["created_at"])
    repo = MembersRepository(session)
    known = await repo.community(event.tenant_id, community_id)
    if known is not None and not domain.supersedes(at, known[1]):
        return
    named = data.get("timezone")
    if isinstance(named, str) and domain.zone(named).key == named:
        timezone = named
    elif known is not None:
        timezone = known[0]
    else:
        timezone = domain.DEFAULT_ZONE
    await repo.save_community(event.tenant_id, community_id, timezone, at)


async def on_levels(session: AsyncSession, events: Sequence[Event]) -> None:
    """A run of rewards' level.changed: the members' levels in their tenant, for draws'
    minimum level, in one read and one write; an older change never overwrites a newer
    one."""
    repo = MembersRepository(session)
    await fold_run(
        events,
        key=lambda event: (event.tenant_id, str(event.data["member_id"])),
        fact=lambda event: level_fact(event.data),
        fold=domain.fold_level,
        load=repo.levels,
        save=repo.save_levels,
    )
