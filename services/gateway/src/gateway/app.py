"""Wiring of the gateway: identity, JWKS, admission (auth, tenant status, rate limits),
routing to the services, merged API docs, aggregated readiness."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from gateway import events
from gateway.access import Gatekeeper, RateLimitHeadersMiddleware
from gateway.api import apikeys, auth, me, operators, platform, tokens
from gateway.domain import mail
from gateway.domain.balance import replica_bases
from gateway.identity import Identity
from gateway.keys import load_signing_keys
from gateway.mailer import Mailer, transport_from_settings
from gateway.openapi import install_docs
from gateway.proxy import install_cors, install_proxy
from gateway.ratelimit import RateLimiter
from gateway.security import TokenIssuer
from gateway.settings import Settings
from gateway.tenancy import TenantDirectory
from servicekit.app import ConsumerSpec, ServiceSpec, create_service_app
from servicekit.auth import TokenVerifier
from servicekit.observability import json_ready

log = logging.getLogger(__name__)

ROUTERS = (platform.router, auth.router, operators.router, apikeys.router, tokens.router, me.router)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    mailer = Mailer(settings, transport_from_settings(settings))
    app = create_service_app(
        ServiceSpec(
            settings=settings,
            title="Quanzi gateway",
            description="The one public entry: identity, tokens (JWKS), routing to services.",
            routers=ROUTERS,
            produces=events.TOPICS,
            consumers=[
                # The gateway mails its own notifications (invitations, password resets).
                ConsumerSpec(
                    name="mailer",
                    topics=[events.NOTIFICATIONS],
                    handlers={kind: mailer for kind in mail.KINDS},
                )
            ],
        )
    )
    app.state.mailer = mailer
    keys = load_signing_keys(settings)
    app.state.signing_keys = keys
    app.state.jwks = keys.jwks()
    app.state.issuer = TokenIssuer(keys, issuer=settings.jwt_issuer, audience=settings.jwt_audience)
    # The gateway verifies its own tokens with its own keys: no HTTP round trip to itself.
    app.state.token_verifier = TokenVerifier(
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        algorithms=settings.jwt_algorithms,
        jwks=app.state.jwks,
    )
    app.add_api_route("/.well-known/jwks.json", _jwks, methods=["GET"], include_in_schema=False)
    # Replace servicekit's own /readyz with one that also asks every upstream.
    app.router.routes = [r for r in app.router.routes if getattr(r, "path", None) != "/readyz"]
    app.add_api_route("/readyz", _readyz, methods=["GET"], include_in_schema=False)
    proxy = install_proxy(app, settings, before_forward=_before_forward)
    proxy.own_routes = [route for router in ROUTERS for route in router.routes]
    install_docs(app, settings)
    app.add_middleware(RateLimitHeadersMiddleware)
    install_cors(app, settings)  # outermost: preflights never reach authentication
    _wrap_lifespan(app, settings)
    return app


def _wrap_lifespan(app: FastAPI, settings: Settings) -> None:
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with inner(app):
            # The identity use cases share the runtime's engine (one pool per process).
            sessions = app.state.sessions
            identity = Identity(sessions, app.state.issuer, settings)
            tenants = TenantDirectory(sessions)
            limiter = RateLimiter.from_settings(settings)
            log.info("mail goes to %s", app.state.mailer.transport.describe())
            app.state.identity = identity
            app.state.tenants = tenants
            app.state.gatekeeper = Gatekeeper(
                settings=settings,
                identity=identity,
                verifier=app.state.token_verifier,
                tenants=tenants,
                limiter=limiter,
                issuer=app.state.issuer,
            )
            try:
                yield
            finally:
                await limiter.aclose()

    app.router.lifespan_context = lifespan


async def _before_forward(request: Request) -> None:
    await request.app.state.gatekeeper.before_forward(request)


async def _jwks(request: Request) -> JSONResponse:
    return JSONResponse(request.app.state.jwks, headers={"Cache-Control": "public, max-age=300"})


async def _readyz(request: Request) -> JSONResponse:
    """Ready when the gateway itself can serve. The upstreams' readiness is reported beside
    it but does not decide it: one service down is answered per request (503 from its
    breakers), never by taking the whole public API out of the load balancer."""
    _, own = await request.app.state.runtime.readiness()
    upstreams: dict[str, str] = request.app.state.settings.upstreams
    names = sorted(upstreams)
    async with httpx.AsyncClient(timeout=3.0) as client:
        answers = await asyncio.gather(*(_upstream_ready(client, upstreams[n]) for n in names))
    status, body = json_ready(own["checks"])
    body["upstreams"] = dict(zip(names, answers, strict=True))
    return JSONResponse(body, status_code=status)


async def _upstream_ready(client: httpx.AsyncClient, upstream: str) -> str:
    """ "ok" when at least one replica is ready (the proxy sends only to ready ones), else
    why each is not."""
    answers = await asyncio.gather(
        *(_replica_ready(client, base) for base in replica_bases(upstream))
    )
    return "ok" if "ok" in answers else "; ".join(answers)


async def _replica_ready(client: httpx.AsyncClient, base: str) -> str:
    try:
        response = await client.get(base + "/readyz")
    except httpx.HTTPError as error:
        return f"unreachable: {type(error).__name__}"
    return "ok" if response.status_code == 200 else f"not ready ({response.status_code})"
