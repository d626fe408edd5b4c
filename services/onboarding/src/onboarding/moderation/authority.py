"""Who may moderate a community: its moderators (403 otherwise, 404 for another
tenant's); queues across communities and tenant-wide bans are for tenant operators."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from onboarding.audit.service import Actor
from onboarding.membership.repository import Repository
from onboarding.orm import Community
from onboarding.permissions import Permission, authorize, is_tenant_operator
from servicekit.auth import Principal
from servicekit.problems import Problem, not_found


def forbidden(detail: str) -> Problem:
    return Problem(403, "forbidden", "Forbidden", detail)


async def moderated(
    session: AsyncSession,
    principal: Principal,
    community_id: str,
    permission: Permission = Permission.MODERATE,
) -> tuple[Community, Actor]:
    """The community (404 for another tenant's) and the actor allowed to act on it (403)."""
    community = await Repository(session).community(principal.tenant_id, community_id)
    if community is None:
        raise not_found("community")
    return community, await authorize(session, principal, community_id, permission)


async def queue_scope(
    session: AsyncSession, principal: Principal, community_id: str | None
) -> None:
    """A queue across all communities is for tenant operators; community moderators pass
    their community's id."""
    if community_id is not None:
        await moderated(session, principal, community_id)
    elif not is_tenant_operator(principal):
        raise forbidden("tenant operators only; community moderators pass community_id")


def tenant_operator(principal: Principal) -> None:
    """Tenant-wide bans reach every community: only tenant operators decide them."""
    if not is_tenant_operator(principal):
        raise forbidden("tenant-wide bans are for tenant operators")
