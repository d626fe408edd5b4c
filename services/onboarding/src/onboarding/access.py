"""Who may call what: operators, members, and the tenant's payment backend."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from servicekit.auth import CurrentPrincipal, Principal
from servicekit.problems import Problem

OPERATOR_ROLES = frozenset({"owner", "admin", "operator"})
MANAGER_ROLES = frozenset({"owner", "admin"})
INTEGRATION_ROLE = "integration"
# Scopes of API keys (the gateway's `Scope`): what a company's backend may do here.
PAYMENTS_SCOPE = "payments:write"
MEMBERS_SCOPE = "members:write"
READ_SCOPE = "read"


def forbidden(detail: str) -> Problem:
    return Problem(403, "forbidden", "Forbidden", detail)


def is_operator(principal: Principal) -> bool:
    return principal.token_type == "access" and principal.has_any_role(*OPERATOR_ROLES)


def is_member(principal: Principal) -> bool:
    return principal.token_type == "member"


def key_scopes(principal: Principal) -> frozenset[str]:
    """The scopes of an API key (empty for anyone else). API keys reach services as
    gateway-signed tokens with the integration role whose `scope` lists the key's scopes."""
    if principal.token_type != "access" or not principal.has_any_role(INTEGRATION_ROLE):
        return frozenset()
    scope = principal.claims.get("scope")
    return frozenset(scope.split()) if isinstance(scope, str) else frozenset()


def has_payments_scope(principal: Principal) -> bool:
    return PAYMENTS_SCOPE in key_scopes(principal)


async def operator(principal: CurrentPrincipal) -> Principal:
    if not is_operator(principal):
        raise forbidden("operators only")
    return principal


async def manager(principal: CurrentPrincipal) -> Principal:
    if not (principal.token_type == "access" and principal.has_any_role(*MANAGER_ROLES)):
        raise forbidden("owners and admins only")
    return principal


async def member(principal: CurrentPrincipal) -> Principal:
    if not is_member(principal):
        raise forbidden("members only (a member token)")
    return principal


async def operator_or_member(principal: CurrentPrincipal) -> Principal:
    if not (is_operator(principal) or is_member(principal)):
        raise forbidden("operators and members only")
    return principal


def own_only(principal: Principal) -> str | None:
    """A member sees and changes only their own (their external id); operators see all."""
    return principal.subject if is_member(principal) else None


async def payments_writer(principal: CurrentPrincipal) -> Principal:
    if not has_payments_scope(principal):
        raise forbidden("an API key with the payments:write scope is needed")
    return principal


async def refunder(principal: CurrentPrincipal) -> Principal:
    """The payment backend, or an owner or admin deciding a refund by hand."""
    manager = principal.token_type == "access" and principal.has_any_role(*MANAGER_ROLES)
    if not (has_payments_scope(principal) or manager):
        raise forbidden("payments:write API keys, owners and admins only")
    return principal


async def members_writer(principal: CurrentPrincipal) -> Principal:
    """Operators, or a CRM's API key with the members:write scope (it syncs the directory)."""
    if not (is_operator(principal) or MEMBERS_SCOPE in key_scopes(principal)):
        raise forbidden("operators, or an API key with the members:write scope")
    return principal


async def members_reader(principal: CurrentPrincipal) -> Principal:
    """Operators, or an API key that may read (read, or members:write: a sync reads back)."""
    if not (is_operator(principal) or key_scopes(principal) & {READ_SCOPE, MEMBERS_SCOPE}):
        raise forbidden("operators, or an API key with the read or members:write scope")
    return principal


async def reader(principal: CurrentPrincipal) -> Principal:
    """Operators, or an API key with the read scope (reports, BI, a CRM's reads)."""
    if not (is_operator(principal) or READ_SCOPE in key_scopes(principal)):
        raise forbidden("operators, or an API key with the read scope")
    return principal


Operator = Annotated[Principal, Depends(operator)]
MembersWriter = Annotated[Principal, Depends(members_writer)]
MembersReader = Annotated[Principal, Depends(members_reader)]
Reader = Annotated[Principal, Depends(reader)]
Manager = Annotated[Principal, Depends(manager)]
Member = Annotated[Principal, Depends(member)]
OperatorOrMember = Annotated[Principal, Depends(operator_or_member)]
PaymentsWriter = Annotated[Principal, Depends(payments_writer)]
Refunder = Annotated[Principal, Depends(refunder)]
