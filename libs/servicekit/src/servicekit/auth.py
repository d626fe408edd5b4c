"""Zero-trust token verification: every service checks the gateway's JWTs itself.

The algorithm is pinned (asymmetric only), the key comes from the gateway's JWKS
by ``kid``, and ``typ``, ``iss``, ``aud``, ``exp`` (and ``nbf``) are enforced.
Client headers such as ``X-Tenant-Id`` are never read: the tenant is the token's.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Annotated, Any

import httpx
import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from servicekit.problems import Problem

ASYMMETRIC_ALGORITHMS = frozenset({"EdDSA", "ES256", "ES384", "RS256", "PS256"})
TOKEN_TYPES = frozenset({"access", "member"})
JWKS_REFRESH_MIN_INTERVAL_S = 30.0
VERIFIED_CACHE_SIZE = 50_000


@dataclass(frozen=True)
class Principal:
    tenant_id: str
    subject: str
    roles: frozenset[str]
    token_type: str
    claims: dict[str, Any] = field(default_factory=dict, compare=False)

    def has_any_role(self, *roles: str) -> bool:
        return not self.roles.isdisjoint(roles)


def unauthenticated(detail: str) -> Problem:
    return Problem(
        401,
        "unauthenticated",
        "Authentication required",
        detail,
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


class TokenVerifier:
    """Verifies bearer tokens against a JWKS fetched from a URL or given statically."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        algorithms: list[str],
        jwks_url: str | None = None,
        jwks: dict[str, Any] | None = None,
        leeway_s: int = 5,
    ) -> None:
        unsafe = set(algorithms) - ASYMMETRIC_ALGORITHMS
        if unsafe or not algorithms:
            raise ValueError(f"only asymmetric algorithms may be pinned, not {sorted(unsafe)}")
        if jwks_url is None and jwks is None:
            raise ValueError("a JWKS URL or a static JWKS is needed")
        self._issuer = issuer
        self._audience = audience
        self._algorithms = list(algorithms)
        self._jwks_url = jwks_url
        self._leeway_s = leeway_s
        self._keys: dict[str, jwt.PyJWK] = {}
        self._verified: dict[str, tuple[float, Principal]] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()
        if jwks is not None:
            self._keys = _parse_jwks(jwks)
            self._fetched_at = float("inf")  # static: never refetch

    async def verify(self, token: str) -> Principal:
        """The token's principal. Verified tokens are remembered until they expire: a
        signature check costs more than the rest of a proxied request's own work."""
        cached = self._verified.get(token)
        if cached is not None and time.time() < cached[0]:
            return cached[1]
        principal = await self._verify(token)
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            self._verified.clear()  # bounded; the next requests re-verify
        self._verified[token] = (float(principal.claims["exp"]), principal)
        return principal

    async def _verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise unauthenticated("malformed token") from error
        if header.get("alg") not in self._algorithms:
            raise unauthenticated("token algorithm not accepted")
        key = await self._key(str(header.get("kid", "")))
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=self._algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway_s,
                options={"require": ["exp", "iat", "iss", "aud", "sub", "tenant_id", "typ"]},
            )
        except jwt.PyJWTError as error:
            raise unauthenticated(f"invalid token: {error}") from error
        if claims.get("typ") not in TOKEN_TYPES:
            raise unauthenticated("token type not accepted")
        for name in ("tenant_id", "sub"):
            if not isinstance(claims[name], str) or not claims[name]:
                raise unauthenticated(f"malformed {name} claim")
        roles = claims.get("roles", [])
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise unauthenticated("malformed roles claim")
        return Principal(
            tenant_id=str(claims["tenant_id"]),
            subject=str(claims["sub"]),
            roles=frozenset(roles),
            token_type=str(claims["typ"]),
            claims=claims,
        )

    async def _key(self, kid: str) -> jwt.PyJWK:
        if kid not in self._keys:
            await self._refresh()
        key = self._keys.get(kid)
        if key is None:
            raise unauthenticated("unknown signing key")
        return key

    async def _refresh(self) -> None:
        # Unknown kids trigger a refetch (key rotation), at most every 30 s (no amplification).
        async with self._lock:
            if time.monotonic() - self._fetched_at < JWKS_REFRESH_MIN_INTERVAL_S:
                return
            self._fetched_at = time.monotonic()
            assert self._jwks_url is not None
            try:
                async with httpx.AsyncClient(timeout=5.0) as client:
                    response = await client.get(self._jwks_url)
                    response.raise_for_status()
                self._keys = _parse_jwks(response.json())
            except (httpx.HTTPError, ValueError) as error:
                raise Problem(
                    503,
                    "unavailable",
                    "Token keys unavailable",
                    "cannot fetch the JWKS",
                ) from error


def _parse_jwks(jwks: dict[str, Any]) -> dict[str, jwt.PyJWK]:
    keys = {}
    for entry in jwks.get("keys", []):
        if entry.get("kid") and entry.get("kty") in ("OKP", "EC", "RSA"):
            keys[entry["kid"]] = jwt.PyJWK(entry)
    return keys


def verifier_from_settings(settings: Any) -> TokenVerifier:
    return TokenVerifier(
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        algorithms=settings.jwt_algorithms,
        jwks_url=None if settings.jwks_json else settings.jwks_url,
        jwks=json.loads(settings.jwks_json) if settings.jwks_json else None,
    )


_bearer = HTTPBearer(auto_error=False, description="JWT issued by the Quanzi gateway")


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise unauthenticated("missing bearer token")
    verifier: TokenVerifier = request.app.state.token_verifier
    return await verifier.verify(credentials.credentials)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: str) -> Any:
    """Dependency: the principal must hold one of ``roles``, else 403."""

    async def check(principal: CurrentPrincipal) -> Principal:
        if not principal.has_any_role(*roles):
            raise Problem(403, "forbidden", "Forbidden", "your role does not allow this")
        return principal

    return Depends(check)


def is_member(principal: Principal) -> bool:
    """A member's token (the gateway mints them for a tenant's app users)."""
    return principal.token_type == "member"


def is_operator(principal: Principal, *roles: str) -> bool:
    """An operator's token (an access token, or an API key exchanged at the gateway)
    holding one of ``roles``."""
    return principal.token_type == "access" and principal.has_any_role(*roles)


async def member_only(principal: CurrentPrincipal) -> Principal:
    """Dependency: a member's token, else 403."""
    if not is_member(principal):
        raise Problem(403, "forbidden", "Forbidden", "member tokens only")
    return principal


def operator_with(*roles: str) -> Any:
    """Dependency: an operator holding one of ``roles``, else 403."""

    async def check(principal: CurrentPrincipal) -> Principal:
        if not is_operator(principal, *roles):
            raise Problem(403, "forbidden", "Forbidden", "your role does not allow this")
        return principal

    return Depends(check)
