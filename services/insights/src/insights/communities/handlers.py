"""Consumers of the communities projection: onboarding's communities (names and zones)
and community roles (who administers which community)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from insights.communities import domain, service
from insights.communities.repository import CommunityRepository
from insights.figures.events import moment
from insights.silence import service as silence
from servicekit.events import Event

COMMUNITY_CREATED = "quanzi.onboarding.community.created.v1"
COMMUNITY_UPDATED = "quanzi.onboarding.community.updated.v1"
ROLE_GRANTED = "quanzi.onboarding.role.granted.v1"
ROLE_REVOKED = "quanzi.onboarding.role.revoked.v1"


async def on_community(session: AsyncSession, event: Event) -> None:
    """An update without a zone (or with one this machine does not know) keeps the known
    zone; an older announcement never overwrites a newer one."""
    data = event.data
    community_id = str(data["community_id"])
    at = moment(data.get("updated_at") or data["created_at"])
    name = data.get("name")
    zone = domain.known_zone(data.get("timezone"))
    moved = await service.announce(
        session, event.tenant_id, community_id, str(name) if name else None, zone, at
    )
    if moved:
        await silence.rearm(session, event.tenant_id, community_id)


async def on_roles(session: AsyncSession, events: Sequence[Event]) -> None:
    """A run of role events, folded by grant (the newest event about a grant wins)."""
    repo = CommunityRepository(session)
    keys = [(event.tenant_id, str(event.data["grant_id"])) for event in events]
    known = dict(await repo.grants(keys))
    changed: dict[tuple[str, str], domain.Grant] = {}
    for key, event in zip(keys, events, strict=True):
        data = event.data
        granted = event.type == ROLE_GRANTED
        fact = domain.Grant(
            community_id=str(data["community_id"]),
            member_id=str(data["member_id"]),
            role=str(data["role"]),
            active=granted,
            at=moment(data["granted_at"] if granted else data["revoked_at"]),
        )
        known[key] = changed[key] = domain.fold_grant(known.get(key), fact)
    await repo.save_grants(changed)
