"""Who is calling the gateway: operators and members (JWT), servers (API key), the platform."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from gateway.domain.roles import MANAGERS
from gateway.security import same_secret
from gateway.service import Identity, KeyPrincipal
from gateway.tenancy import TenantDirectory
from servicekit.auth import CurrentPrincipal, Principal, unauthenticated
from servicekit.problems import Problem

EMAIL_PATTERN = r"^[^@\s]{1,64}@[^@\s]{1,255}$"


def identity(request: Request) -> Identity:
    return request.app.state.identity  # type: ignore[no-any-return]


IdentityDep = Annotated[Identity, Depends(identity)]


async def active_principal(request: Request, principal: CurrentPrincipal) -> Principal:
    """A verified token of a tenant that is not suspended."""
    directory: TenantDirectory = request.app.state.tenants
    await directory.require_active(principal.tenant_id)
    return principal


ActivePrincipal = Annotated[Principal, Depends(active_principal)]


async def operator(principal: ActivePrincipal) -> Principal:
    if principal.token_type != "access":
        raise Problem(403, "forbidden", "Forbidden", "operators only")
    return principal


async def manager(principal: Annotated[Principal, Depends(operator)]) -> Principal:
    if not principal.has_any_role(*MANAGERS):
        raise Problem(403, "forbidden", "Forbidden", "owners and admins only")
    return principal


Operator = Annotated[Principal, Depends(operator)]
Manager = Annotated[Principal, Depends(manager)]

_api_key = APIKeyHeader(
    name="X-Api-Key", auto_error=False, description="A tenant API key: qzk_<prefix>_<secret>"
)


async def api_key(request: Request, raw: Annotated[str | None, Depends(_api_key)]) -> KeyPrincipal:
    if not raw:
        raise Problem(401, "invalid-api-key", "API key required", "send X-Api-Key")
    key = await identity(request).authenticate_api_key(raw)
    await request.app.state.tenants.require_active(key.tenant_id)
    return key


ApiKeyPrincipal = Annotated[KeyPrincipal, Depends(api_key)]

_platform = HTTPBearer(
    auto_error=False, scheme_name="platformAdmin", description="The platform admin key"
)


async def platform_admin(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_platform)],
) -> None:
    expected = request.app.state.settings.platform_admin_key.get_secret_value()
    if credentials is None or not same_secret(credentials.credentials, expected):
        raise unauthenticated("platform admin credential required")


PlatformAdmin = Annotated[None, Depends(platform_admin)]
IdempotencyHeader = Annotated[str | None, Header(alias="Idempotency-Key")]
