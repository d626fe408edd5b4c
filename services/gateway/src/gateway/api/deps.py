"""Who is calling the gateway: operators and members (JWT), servers (API key), the platform."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from gateway.access import Caller, Gatekeeper
from gateway.domain.roles import MANAGERS
from gateway.identity import Identity
from gateway.identity.api_keys import KeyPrincipal
from gateway.security import same_secret
from servicekit.auth import Principal, unauthenticated
from servicekit.problems import Problem


async def identity(request: Request) -> Identity:
    return request.app.state.identity  # type: ignore[no-any-return]


IdentityDep = Annotated[Identity, Depends(identity)]


def _gatekeeper(request: Request) -> Gatekeeper:
    return request.app.state.gatekeeper  # type: ignore[no-any-return]


# Dependencies are coroutines: FastAPI runs a plain ``def`` dependency in a worker thread,
# a thread hop on every request for a line that needs none.
async def gatekeeper(request: Request) -> Gatekeeper:
    return _gatekeeper(request)


async def admitted(request: Request) -> Caller:
    """Authenticated (token or API key), tenant active, within its rate limits."""
    return await _gatekeeper(request).admit(request)


async def active_principal(caller: Annotated[Caller, Depends(admitted)]) -> Principal:
    return caller.principal


ActivePrincipal = Annotated[Principal, Depends(active_principal)]


async def anonymous_limit(request: Request) -> None:
    await _gatekeeper(request).limit_anonymous(request)


# Declared for the OpenAPI document; the gatekeeper reads the header itself.
_bearer = HTTPBearer(auto_error=False, description="An operator's access token (JWT)")


async def operator(
    principal: ActivePrincipal,
    _declared: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if principal.token_type != "access":
        raise Problem(403, "forbidden", "Forbidden", "operators only")
    return principal


async def manager(principal: Annotated[Principal, Depends(operator)]) -> Principal:
    if not principal.has_any_role(*MANAGERS):
        raise Problem(403, "forbidden", "Forbidden", "owners and admins only")
    return principal


Operator = Annotated[Principal, Depends(operator)]
Manager = Annotated[Principal, Depends(manager)]

# Declared for the OpenAPI document; the gatekeeper reads the header itself.
_api_key = APIKeyHeader(
    name="X-Api-Key", auto_error=False, description="A tenant API key: qzk_<prefix>_<secret>"
)


async def api_key(
    caller: Annotated[Caller, Depends(admitted)],
    _declared: Annotated[str | None, Depends(_api_key)],
) -> KeyPrincipal:
    if caller.key is None:
        raise Problem(401, "invalid-api-key", "API key required", "send X-Api-Key")
    return caller.key


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
