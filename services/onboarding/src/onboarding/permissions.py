"""Who may act on a community: tenant operators everywhere, members by their community roles.

Tenant operators (owner, admin, operator roles in the access token) may do everything in every
community of their tenant. Members act through the community roles they were granted
(roles.py): a community admin moderates with a member token. ``authorize`` is the one check
every community-scoped action goes through.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from onboarding.audit import Actor
from servicekit.auth import Principal
from servicekit.problems import Problem

OPERATOR_ROLES = frozenset({"owner", "admin", "operator"})


class Permission(StrEnum):
    MANAGE_COMMUNITY = "manage_community"  # settings, groups, codes, rules (群规)
    MANAGE_ROLES = "manage_roles"
    REVIEW_APPLICATIONS = "review_applications"
    MODERATE = "moderate"  # reports, sanctions, appeals
    WELCOME = "welcome"  # greet newcomers (mentors)


def is_tenant_operator(principal: Principal) -> bool:
    return principal.token_type == "access" and principal.has_any_role(*OPERATOR_ROLES)


async def authorize(
    session: AsyncSession, principal: Principal, community_id: str, permission: Permission
) -> Actor:
    """The acting principal, or 403 when it may not do ``permission`` in the community.

    Callers look the community up first (scoped by tenant), so another tenant's community is
    a 404 before this is reached.
    """
    if is_tenant_operator(principal):
        return Actor.of(principal)
    raise Problem(403, "forbidden", "Forbidden", f"needs the {permission} permission here")
