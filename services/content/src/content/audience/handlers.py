"""Consumers of the audience projection: onboarding's memberships, groups and community
roles, rewards' levels. Idempotent through the inbox; order-tolerant through ``fold``."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from content.audience import domain
from content.audience.events import MEMBERSHIP_FACTS, moment
from content.audience.repository import AudienceRepository
from servicekit.events import Event
from servicekit.projection import fold_run


async def on_memberships(session: AsyncSession, events: Sequence[Event]) -> None:
    """A run of membership events: the rows read in one statement, folded in order in
    memory, written in one statement."""
    repo = AudienceRepository(session)
    await fold_run(
        events,
        key=lambda event: (event.tenant_id, str(event.data["membership_id"])),
        fact=lambda event: MEMBERSHIP_FACTS[event.type](event.data),
        fold=domain.fold,
        load=repo.memberships,
        save=repo.save_memberships,
    )


async def on_levels_changed(session: AsyncSession, events: Sequence[Event]) -> None:
    """A run of rewards' level reports: one read and one write, the latest report of each
    member kept (a late one does not lower the level)."""
    repo = AudienceRepository(session)
    await fold_run(
        events,
        key=lambda event: (event.tenant_id, str(event.data["member_id"])),
        fact=lambda event: domain.Level(int(event.data["level"]), moment(event.data["changed_at"])),
        fold=domain.fold_level,
        load=repo.levels,
        save=repo.save_levels,
    )


async def on_community_created(session: AsyncSession, event: Event) -> None:
    data = event.data
    await AudienceRepository(session).add_community(
        event.tenant_id,
        str(data["community_id"]),
        str(data["name"]),
        moment(data["created_at"]),
        known_zone(data.get("timezone")),
    )


async def on_community_updated(session: AsyncSession, event: Event) -> None:
    """Only the time zone is kept from an update (the name is not shown by content)."""
    zone = known_zone(event.data.get("timezone"))
    if zone is not None:
        community_id = str(event.data["community_id"])
        at = moment(event.data["updated_at"])
        await AudienceRepository(session).set_timezone(event.tenant_id, community_id, zone, at)


def known_zone(name: object) -> str | None:
    """An IANA zone this machine knows, else None (the community then has no zone)."""
    return name if isinstance(name, str) and domain.zone_of(name) is not None else None


async def on_group_created(session: AsyncSession, event: Event) -> None:
    data = event.data
    await AudienceRepository(session).add_group(
        event.tenant_id, str(data["group_id"]), str(data["community_id"]), str(data["kind"])
    )


async def on_role_granted(session: AsyncSession, event: Event) -> None:
    data = event.data
    await AudienceRepository(session).grant_role(
        event.tenant_id,
        str(data["grant_id"]),
        str(data["member_id"]),
        str(data["community_id"]),
        str(data["role"]),
    )


async def on_role_revoked(session: AsyncSession, event: Event) -> None:
    await AudienceRepository(session).revoke_role(event.tenant_id, str(event.data["grant_id"]))
