"""Operator roles and what each may do in the gateway."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    OPERATOR = "operator"
    CONTENT_OFFICER = "content_officer"
    ACTIVITY_OFFICER = "activity_officer"


OPERATOR_ROLES = frozenset(Role)
MEMBER_ROLE = "member"
INTEGRATION_ROLE = "integration"
PLATFORM_ADMIN_ROLE = "platform_admin"

# Who manages the tenant's people and credentials.
MANAGERS = frozenset({Role.OWNER, Role.ADMIN})


def may_grant(granter_roles: frozenset[str], granted: frozenset[str]) -> bool:
    """Owners grant any role; admins grant any but owner; nobody else grants."""
    if Role.OWNER in granter_roles:
        return True
    if Role.ADMIN in granter_roles:
        return Role.OWNER not in granted
    return False


def unknown_roles(roles: frozenset[str]) -> frozenset[str]:
    return frozenset(role for role in roles if role not in OPERATOR_ROLES)
