"""Who may pass the gateway: authentication, tenant status and rate limits, per request.

Proxied requests and the gateway's own endpoints pass the same checks:
a verified token (or API key) → an active tenant → the tenant's and the
principal's token buckets. API keys never travel further than the gateway: a
request made with one is forwarded with a short-lived token the gateway signs,
so services only ever verify JWTs (zero trust, one mechanism).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.domain.roles import INTEGRATION_ROLE
from gateway.identity import Identity
from gateway.identity.api_keys import KeyPrincipal
from gateway.ratelimit import RateLimiter, rate_limit_headers, too_many_requests
from gateway.security import TokenIssuer
from gateway.settings import PrincipalKind, Settings
from gateway.tenancy import TenantDirectory
from servicekit.auth import Principal, TokenVerifier, unauthenticated

API_KEY_HEADER = b"x-api-key"
INTERNAL_TOKEN_TTL = timedelta(minutes=2)
ANONYMOUS_PLAN = "anonymous"
_RATE_HEADERS = "quanzi.rate_limit_headers"


@dataclass(frozen=True)
class Caller:
    principal: Principal
    key: KeyPrincipal | None = None


class Gatekeeper:
    def __init__(
        self,
        *,
        settings: Settings,
        identity: Identity,
        verifier: TokenVerifier,
        tenants: TenantDirectory,
        limiter: RateLimiter,
        issuer: TokenIssuer,
    ) -> None:
        self.settings = settings
        self.identity = identity
        self.verifier = verifier
        self.tenants = tenants
        self.limiter = limiter
        self.issuer = issuer
        self._internal_tokens: dict[str, tuple[float, str]] = {}

    async def admit(self, request: Request) -> Caller:
        """Authenticated, tenant active, within limits; else a 401/403/429 problem."""
        caller = await self.authenticate(request)
        tenant = await self.tenants.require_active(caller.principal.tenant_id)
        principal = caller.principal
        await self.limit(
            request, principal.tenant_id, principal.subject, tenant.plan, kind_of(principal)
        )
        plans = self.settings.rate_limit_plans
        share = (plans.get(tenant.plan) or plans[self.settings.default_plan]).max_in_flight
        request.state.tenant_share = (principal.tenant_id, share)  # for the proxy
        return caller

    async def authenticate(self, request: Request) -> Caller:
        raw_key = request.headers.get("x-api-key")
        if raw_key and "authorization" in request.headers:
            # Which of the two would act? Neither: a bad token beside a good key (or the
            # reverse) must not pass silently under the other credential.
            raise unauthenticated("send one credential: a bearer token or X-Api-Key, not both")
        if raw_key:
            key = await self.identity.api_keys.authenticate(raw_key)
            principal = Principal(
                tenant_id=key.tenant_id,
                subject=f"apikey:{key.key_id}",
                roles=frozenset({INTEGRATION_ROLE}),
                token_type="apikey",
            )
            return Caller(principal, key)
        authorization = request.headers.get("authorization", "")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise unauthenticated("missing bearer token or X-Api-Key")
        return Caller(await self.verifier.verify(token.strip()))

    async def limit(
        self,
        request: Request,
        tenant_id: str,
        principal: str,
        plan: str,
        kind: PrincipalKind = "member",
    ) -> None:
        plans = self.settings.rate_limit_plans
        limits = plans.get(plan) or plans[self.settings.default_plan]
        decision = await self.limiter.check(
            tenant_id=tenant_id, principal=principal, plan=limits, kind=kind
        )
        if not decision.allowed:
            raise too_many_requests(decision)
        request.scope.setdefault("state", {})[_RATE_HEADERS] = rate_limit_headers(decision)

    async def limit_anonymous(self, request: Request) -> None:
        """Sign-in endpoints have no principal yet: limit per client address."""
        address = request.client.host if request.client else "unknown"
        plans = self.settings.rate_limit_plans
        plan = ANONYMOUS_PLAN if ANONYMOUS_PLAN in plans else self.settings.default_plan
        await self.limit(request, f"ip:{address}", "anonymous", plan)

    async def before_forward(self, request: Request) -> None:
        """The proxy's hook: admit, then swap an API key for a gateway-signed token."""
        caller = await self.admit(request)
        if caller.key is not None:
            token = self._internal_token(caller.key)
            headers = [
                (name, value)
                for name, value in request.scope["headers"]
                if name not in (API_KEY_HEADER, b"authorization")
            ]
            request.scope["headers"] = [*headers, (b"authorization", f"Bearer {token}".encode())]

    def _internal_token(self, key: KeyPrincipal) -> str:
        # Reused until 30 s before it expires: signing per request would cost more than proxying.
        now = time.monotonic()
        cached = self._internal_tokens.get(key.key_id)
        if cached and cached[0] > now:
            return cached[1]
        issued = self.issuer.issue(
            subject=f"apikey:{key.key_id}",
            tenant_id=key.tenant_id,
            roles=[INTEGRATION_ROLE],
            typ="access",
            ttl=INTERNAL_TOKEN_TTL,
            extra={"scope": " ".join(sorted(key.scopes))},
        )
        if len(self._internal_tokens) > 10_000:
            self._internal_tokens.clear()
        self._internal_tokens[key.key_id] = (
            now + INTERNAL_TOKEN_TTL.total_seconds() - 30,
            issued.token,
        )
        return issued.token


def kind_of(principal: Principal) -> PrincipalKind:
    """Which bucket size a caller gets: an API key, a member (member tokens), or an
    operator (every other access token)."""
    if principal.token_type == "apikey":
        return "apikey"
    return "member" if principal.token_type == "member" else "operator"


class RateLimitHeadersMiddleware:
    """Adds the RateLimit-* headers the checks above left in the request's state."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = scope.get("state", {}).get(_RATE_HEADERS)
                if extra:
                    message["headers"] = [
                        *message.get("headers", []),
                        *((k.lower().encode(), v.encode()) for k, v in extra.items()),
                    ]
            await send(message)

        await self.app(scope, receive, send_with_headers)
