"""Who may call what: operators, members, and the tenant's payment backend."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from servicekit.auth import CurrentPrincipal, Principal
from servicekit.problems import Problem

OPERATOR_ROLES = frozenset({"owner", "admin", "operator"})
MANAGER_ROLES = frozenset({"owner", "admin"})
INTEGRATION_ROLE = "integration"
PAYMENTS_SCOPE = "payments:write"


async def refuse_nul(request: Request) -> None:
    """PostgreSQL text cannot hold U+0000: a path or query value with one is a 400 problem
    here rather than a driver error (a 500) later. Bodies are checked by their models."""
    params = request.query_params
    values = [*request.path_params.values(), *params.keys(), *params.values()]
    if any("\x00" in str(value) for value in values):
        raise Problem(400, "nul-character", "NUL character", "the path or query contains U+0000")


def forbidden(detail: str) -> Problem:
    return Problem(403, "forbidden", "Forbidden", detail)


def is_operator(principal: Principal) -> bool:
    return principal.token_type == "access" and principal.has_any_role(*OPERATOR_ROLES)


def is_member(principal: Principal) -> bool:
    return principal.token_type == "member"


def has_payments_scope(principal: Principal) -> bool:
    # API keys reach services as gateway-signed tokens whose `scope` lists the key's scopes.
    scope = principal.claims.get("scope")
    scopes = scope.split() if isinstance(scope, str) else []
    return (
        principal.token_type == "access"
        and principal.has_any_role(INTEGRATION_ROLE)
        and PAYMENTS_SCOPE in scopes
    )


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


Operator = Annotated[Principal, Depends(operator)]
Manager = Annotated[Principal, Depends(manager)]
Member = Annotated[Principal, Depends(member)]
PaymentsWriter = Annotated[Principal, Depends(payments_writer)]
Refunder = Annotated[Principal, Depends(refunder)]
