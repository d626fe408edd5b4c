"""Consumers of the zones projection: the gateway's tenants and onboarding's communities
announce their time zones; rewards keeps them to know each one's "today".

An event without a zone (published before zones were added, or a change of something
else) changes nothing; a zone this machine does not know is ignored too (the day then
stays in the zone known before, or the tenant's, or the default).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from rewards.zones import service
from rewards.zones.domain import known_zone
from servicekit.events import Event

TENANT_CREATED = "quanzi.gateway.tenant.created.v1"
TENANT_UPDATED = "quanzi.gateway.tenant.updated.v1"
COMMUNITY_CREATED = "quanzi.onboarding.community.created.v1"
COMMUNITY_UPDATED = "quanzi.onboarding.community.updated.v1"


async def on_tenant(session: AsyncSession, event: Event) -> None:
    zone = known_zone(event.data.get("timezone"))
    if zone is not None:
        await service.set_tenant_zone(session, event.tenant_id, zone, event.time)


async def on_community(session: AsyncSession, event: Event) -> None:
    zone = known_zone(event.data.get("timezone"))
    community_id = event.data.get("community_id")
    if zone is not None and isinstance(community_id, str) and community_id:
        await service.set_community_zone(session, event.tenant_id, community_id, zone, event.time)
