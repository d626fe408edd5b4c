"""Who may act on a community: tenant operators everywhere, members by their community roles.

Tenant operators (owner, admin, operator roles in the access token) may do everything in every
community of their tenant. Members act through the community roles they were granted
(roles/service.py; the role → permissions table is roles.domain.PERMISSIONS): a community admin
moderates with a member token. ``authorize`` is the one check every community-scoped action
goes through.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from onboarding.audit.service import Actor
from onboarding.roles.domain import Permission, Role, permits
from onboarding.roles.repository import RoleRepository
from servicekit.auth import Principal
from servicekit.problems import Problem

__all__ = ["OPERATOR_ROLES", "Permission", "authorize", "community_roles", "is_tenant_operator"]

OPERATOR_ROLES = frozenset({"owner", "admin", "operator"})
TENANT_MANAGERS = frozenset({"owner", "admin"})


def is_tenant_operator(principal: Principal) -> bool:
    return principal.token_type == "access" and principal.has_any_role(*OPERATOR_ROLES)


def is_tenant_manager(principal: Principal) -> bool:
    return principal.token_type == "access" and principal.has_any_role(*TENANT_MANAGERS)


async def community_roles(
    session: AsyncSession, principal: Principal, community_id: str
) -> frozenset[Role]:
    """The community roles a member token's subject holds now (none for other principals)."""
    if principal.token_type != "member":
        return frozenset()
    grants = await RoleRepository(session).active_roles(
        principal.tenant_id, community_id, principal.subject
    )
    return frozenset(Role(grant.role) for grant in grants)


async def authorize(
    session: AsyncSession, principal: Principal, community_id: str, permission: Permission
) -> Actor:
    """The acting principal, or 403 when it may not do ``permission`` in the community.

    Callers look the community up first (scoped by tenant), so another tenant's community is
    a 404 before this is reached. Roles end with the seat (roles.end_roles), so an active
    grant always belongs to a seated member.
    """
    if is_tenant_operator(principal):
        return Actor.of(principal)
    if permits(await community_roles(session, principal, community_id), permission):
        return Actor.of(principal)
    raise Problem(403, "forbidden", "Forbidden", f"needs the {permission} permission here")
