"""Wiring of the gateway: identity, JWKS, routing to the services, aggregated readiness."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from gateway import events
from gateway.api import apikeys, auth, operators, platform, tokens
from gateway.keys import load_signing_keys
from gateway.proxy import RouteTable, forward
from gateway.security import TokenIssuer
from gateway.service import Identity
from gateway.settings import Settings
from gateway.tenancy import TenantDirectory
from servicekit.app import ServiceSpec, create_service_app
from servicekit.auth import TokenVerifier
from servicekit.observability import json_ready

PROXIED_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
ROUTERS = (platform.router, auth.router, operators.router, apikeys.router, tokens.router)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    app = create_service_app(
        ServiceSpec(
            settings=settings,
            title="Quanzi gateway",
            description="The one public entry: identity, tokens (JWKS), routing to services.",
            routers=ROUTERS,
            produces=events.TOPICS,
        )
    )
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
    app.state.routes = RouteTable(settings.routes, settings.upstreams)
    _wrap_lifespan(app, settings)
    app.add_api_route("/.well-known/jwks.json", _jwks, methods=["GET"], include_in_schema=False)
    # Replace servicekit's own /readyz with one that also asks every upstream.
    app.router.routes = [r for r in app.router.routes if getattr(r, "path", None) != "/readyz"]
    app.add_api_route("/readyz", _readyz, methods=["GET"], include_in_schema=False)
    app.add_api_route("/v1/{path:path}", _proxy, methods=PROXIED_METHODS, include_in_schema=False)
    return app


def _wrap_lifespan(app: FastAPI, settings: Settings) -> None:
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        limits = httpx.Limits(max_connections=512, max_keepalive_connections=128)
        async with (
            httpx.AsyncClient(
                timeout=settings.upstream_timeout_s, limits=limits, follow_redirects=False
            ) as client,
            inner(app),
        ):
            app.state.http = client
            # The identity use cases share the runtime's engine (one pool per process).
            sessions = app.state.sessions
            app.state.identity = Identity(sessions, app.state.issuer, settings)
            app.state.tenants = TenantDirectory(sessions)
            yield

    app.router.lifespan_context = lifespan


async def _jwks(request: Request) -> JSONResponse:
    return JSONResponse(request.app.state.jwks, headers={"Cache-Control": "public, max-age=300"})


async def _proxy(request: Request, path: str) -> Response:
    return await forward(request, request.app.state.http, request.app.state.routes)


async def _readyz(request: Request) -> JSONResponse:
    status, own = await request.app.state.runtime.readiness()
    table: RouteTable = request.app.state.routes
    client: httpx.AsyncClient = request.app.state.http
    names = sorted(table.upstreams)
    answers = await asyncio.gather(*(_upstream_ready(client, table.upstreams[n]) for n in names))
    checks: dict[str, Any] = {**own["checks"], **dict(zip(names, answers, strict=True))}
    status, body = json_ready(checks)
    return JSONResponse(body, status_code=status)


async def _upstream_ready(client: httpx.AsyncClient, base: str) -> str:
    try:
        response = await client.get(base + "/readyz", timeout=3.0)
    except httpx.HTTPError as error:
        return f"unreachable: {type(error).__name__}"
    return "ok" if response.status_code == 200 else f"not ready ({response.status_code})"
