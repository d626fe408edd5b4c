"""Forwarding ``/v1/...`` to the owning service: the gateway's hot path.

One shared ``aiohttp.ClientSession`` carries every upstream request. The team
measured a FastAPI proxy over a shared ``httpx.AsyncClient`` at 0.06× direct
throughput with 64 connections (httpcore's pool is quadratic in waiting requests,
encode/httpx#3215) against 0.38× for aiohttp; ``bench/gateway.py`` keeps both
engines side by side (``HttpxEngine`` exists for that comparison only).

Bodies stream both ways and pass through byte for byte (no decompression).
An upstream may have several replicas, each with its circuit breaker (``gateway.upstreams``:
which replica gets a request, and the background watch of their readiness); each route a
time budget; idempotent requests are retried on connect errors and 502/503/504
within that budget, and only while their body can still be sent again.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from gateway.engines import (
    Body,
    ConnectFailed,
    Engine,
    EngineName,
    Reply,
    TransportFailed,
    open_engine,
)
from gateway.fairshare import TenantShares
from gateway.routing import (
    PROXIED_METHODS,
    PROXY_PATH,
    RouteTable,
    ServicePrefixRoute,
    TimeoutTable,
    methods_on,
    unshadowed,
)
from gateway.settings import Settings
from gateway.upstreams import RETRY_STATUSES, Upstreams
from servicekit import tracing
from servicekit.problems import Problem

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

# RFC 9110 §7.6.1: meaningful for one connection only, never forwarded (plus the
# headers the Connection header names, and the pre-standard Proxy-Connection).
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# Request headers the gateway sets itself. Host and Content-Length come from the
# client library (Content-Length again from us when a body streams); Expect is
# answered by the gateway's own server when it starts reading the body.
_REQUEST_OWN = frozenset(
    {
        "host",
        "content-length",
        "expect",
        "x-request-id",
        "traceparent",
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-forwarded-host",
    }
)
# Response headers the gateway's server and middleware add themselves (uvicorn
# always writes Date and Server: the upstream's would be duplicates).
_RESPONSE_OWN = frozenset({"date", "server", "x-request-id", "traceparent"})
_RESPONSE_DROP = frozenset(name.encode() for name in HOP_BY_HOP | _RESPONSE_OWN)

REPLAY_BUFFER_BYTES = 64 * 1024  # bodies declared up to this are read whole: a retry can resend
RESPONSE_BUFFER_BYTES = 64 * 1024  # answers declared up to this are read whole: one ASGI send
RETRY_BACKOFF_S = 0.025  # doubled per attempt, with jitter, capped below
RETRY_BACKOFF_MAX_S = 0.25

BeforeForward = Callable[[Request], Awaitable[None]]


# --- headers ------------------------------------------------------------------------------


def _connection_tokens(values: Iterable[str]) -> set[str]:
    """Header names listed in Connection headers: hop-by-hop too (RFC 9110 §7.6.1)."""
    return {token.strip().lower() for value in values for token in value.split(",") if token}


def request_headers(
    raw: Sequence[tuple[bytes, bytes]],
    *,
    client_host: str | None,
    scheme: str,
    request_id: str | None,
    traceparent: str | None,
) -> list[tuple[str, str]]:
    """The client's headers as the upstream should see them."""
    pairs = [(k.decode("latin-1").lower(), v.decode("utf-8", "replace")) for k, v in raw]
    named = _connection_tokens(v for k, v in pairs if k == "connection")
    out = [(k, v) for k, v in pairs if k not in HOP_BY_HOP and k not in _REQUEST_OWN]
    out = [(k, v) for k, v in out if k not in named]
    # Appended, as proxies do: services must trust only the right-most entries they know.
    chain = [v for k, v in pairs if k == "x-forwarded-for"]
    if client_host:
        chain.append(client_host)
    if chain:
        out.append(("x-forwarded-for", ", ".join(chain)))
    out.append(("x-forwarded-proto", scheme))
    host = next((v for k, v in pairs if k == "host"), None)
    if host:
        out.append(("x-forwarded-host", host))
    # The gateway's own request id and span (its middleware made them from the client's).
    if request_id:
        out.append(("x-request-id", request_id))
    if traceparent:
        out.append(("traceparent", traceparent))
    return out


def response_headers(raw: Sequence[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The upstream's headers as the client should see them (ASGI: lower-case names)."""
    lowered = [(k.lower(), v) for k, v in raw]
    named = {
        token.encode()
        for token in _connection_tokens(
            v.decode("latin-1") for k, v in lowered if k == b"connection"
        )
    }
    return [(k, v) for k, v in lowered if k not in _RESPONSE_DROP and k not in named]


def _header(raw: Sequence[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    return next((v for k, v in raw if k.lower() == name), None)


# --- retry policy -------------------------------------------------------------------------


def may_retry(
    method: str, failure: str | int, *, attempt: int, retries: int, body_replayable: bool
) -> bool:
    """Whether attempt ``attempt`` (0-based) may be followed by another.

    ``failure`` is "connect" (no connection), "transport" (the connection broke) or the
    upstream's status. Only idempotent methods are retried, and only while their body
    can be sent again in full: a POST or PATCH may already have had its effect.
    """
    if attempt >= retries or method not in IDEMPOTENT_METHODS or not body_replayable:
        return False
    return failure in ("connect", "transport") or failure in RETRY_STATUSES


def retry_delay(attempt: int, rand: Callable[[], float] = random.random) -> float:
    """Small exponential backoff with jitter, so retrying gateways do not stampede together."""
    base = min(RETRY_BACKOFF_S * 2.0**attempt, RETRY_BACKOFF_MAX_S)
    return base * (0.5 + rand() / 2)


# --- request bodies -----------------------------------------------------------------------


class RequestBody:
    """What goes upstream: nothing, bytes (can be resent) or the client's stream (once)."""

    def __init__(self, request: Request, data: bytes | None, *, stream: bool) -> None:
        self._request = request
        self._data = data
        self._stream = stream
        self.length = request.headers.get("content-length") if stream else None
        self.started = False  # a byte of a streamed body has been pulled from the client
        self.client_gone = False

    @classmethod
    async def of(cls, request: Request) -> RequestBody:
        length = request.headers.get("content-length")
        if length is None and "transfer-encoding" not in request.headers:
            return cls(request, None, stream=False)
        # Small bodies are read whole: cheaper to send in one write, and resendable.
        if length is not None and length.isdigit() and int(length) <= REPLAY_BUFFER_BYTES:
            return cls(request, await request.body(), stream=False)
        return cls(request, None, stream=True)

    @property
    def replayable(self) -> bool:
        return not (self._stream and self.started)

    def payload(self) -> Body:
        return self._chunks() if self._stream else self._data

    async def _chunks(self) -> AsyncIterator[bytes]:
        self.started = True
        try:
            async for chunk in self._request.stream():
                if chunk:  # an empty chunk would end a chunked upload early
                    yield chunk
        except ClientDisconnect:
            self.client_gone = True
            raise


# --- problems -----------------------------------------------------------------------------


def upstream_timeout(service: str, seconds: float) -> Problem:
    return Problem(
        504, "upstream-timeout", "Upstream timeout", f"{service} did not answer in {seconds:g} s"
    )


def bad_gateway(service: str) -> Problem:
    return Problem(502, "bad-gateway", "Bad Gateway", f"{service} is unreachable")


# --- responses ----------------------------------------------------------------------------


class UpstreamStreamingResponse(StreamingResponse):
    """Streams an upstream's body, and always closes the upstream answer afterwards.

    A BackgroundTask would not run when the client goes away mid-stream.
    """

    def __init__(self, reply: Reply, headers: list[tuple[bytes, bytes]]) -> None:
        super().__init__(reply.chunks(), status_code=reply.status)
        self.raw_headers = headers
        self._reply = reply

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._reply.aclose()


async def to_response(reply: Reply, method: str) -> Response:
    headers = response_headers(reply.raw_headers)
    length = _header(reply.raw_headers, b"content-length")
    bodiless = method == "HEAD" or reply.status in (204, 304)
    small = length is not None and length.isdigit() and int(length) <= RESPONSE_BUFFER_BYTES
    if not (bodiless or small):
        return UpstreamStreamingResponse(reply, headers)
    try:
        body = await reply.read()
    finally:
        await reply.aclose()
    response = Response(body, status_code=reply.status)
    response.raw_headers = headers  # the upstream's Content-Length holds: bytes are untouched
    return response


# --- the proxy ----------------------------------------------------------------------------


class Proxy:
    """Routes, breakers and the engine; ``handle`` is the ``/v1/{path}`` endpoint."""

    def __init__(
        self,
        settings: Settings,
        *,
        engine: Engine | None = None,
        before_forward: BeforeForward | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.table = RouteTable(settings.routes, settings.upstreams)
        self.timeouts = TimeoutTable(settings.route_timeouts_s, settings.upstream_timeout_s)
        self.retries = settings.upstream_retries
        self.upstreams = Upstreams(settings, lambda: self.engine, clock=clock, sleep=sleep)
        self.shares = TenantShares(settings.tenant_share_wait_s)
        self.own_routes: list[BaseRoute] = []  # the gateway's own, for 405 answers
        self._engine = engine
        self.before_forward = before_forward
        self.clock = clock

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise RuntimeError("the proxy engine is opened in the app lifespan")
        return self._engine

    @engine.setter
    def engine(self, engine: Engine | None) -> None:
        self._engine = engine

    @property
    def running(self) -> bool:
        return self._engine is not None

    async def handle(self, request: Request) -> Response:
        scope = request.scope  # not request.url: parsing a URL per request shows in profiles
        path: str = scope["path"]
        target = self.table.resolve(path)
        request.state.upstream = target[0] if target else None  # for before_forward
        if target is None:
            allowed = methods_on(self.own_routes, request.scope)
            if allowed:  # one of the gateway's own paths, with another method
                raise Problem(
                    405,
                    "method-not-allowed",
                    "Method Not Allowed",
                    f"{request.method} is not allowed on {path}",
                    headers={"Allow": ", ".join(sorted(allowed))},
                )
        if self.before_forward is not None:
            await self.before_forward(request)
        if target is None:
            raise Problem(404, "not-found", "Not Found", f"no service serves {path}")
        if any(segment in (".", "..") for segment in path.split("/")):
            # Routing saw the path one way; the upstream could resolve it another.
            raise Problem(400, "bad-request", "Bad Request", "'.' and '..' path segments")
        service = target[0]
        client = scope.get("client")
        headers = request_headers(
            scope["headers"],
            client_host=client[0] if client else None,
            scheme=scope.get("scheme", "http"),
            request_id=tracing.current_request_id.get(),
            traceparent=tracing.current_traceparent.get(),
        )
        body = await RequestBody.of(request)
        if body.length is not None:
            headers.append(("content-length", body.length))
        target_path = _raw_target(scope)
        share: tuple[str, int] | None = getattr(request.state, "tenant_share", None)
        if share is None:  # no tenant (a hook that admits anonymous callers)
            reply = await self.exchange(service, request.method, target_path, headers, body, path)
        else:
            async with self.shares.hold(*share):
                reply = await self.exchange(
                    service, request.method, target_path, headers, body, path
                )
        return await to_response(reply, request.method)

    async def exchange(
        self,
        service: str,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: RequestBody,
        path: str,
    ) -> Reply:
        """One answer from ``service`` for ``target`` (path and query), retried within the
        route's budget when allowed (a retry goes to the next replica)."""
        budget = self.timeouts.resolve(path)
        deadline = self.clock() + budget
        attempt = 0
        while True:
            try:
                failure, reply = await self._attempt(
                    service, method, target, headers, body, budget, deadline
                )
            except TimeoutError as error:
                raise upstream_timeout(service, budget) from error
            retry = may_retry(
                method,
                failure,
                attempt=attempt,
                retries=self.retries,
                body_replayable=body.replayable,
            )
            delay = retry_delay(attempt)
            if not retry or self.clock() + delay >= deadline:
                if reply is None:
                    raise bad_gateway(service)
                return reply
            if reply is not None:
                await reply.aclose()
            await asyncio.sleep(delay)
            attempt += 1

    async def _attempt(
        self,
        service: str,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: RequestBody,
        budget: float,
        deadline: float,
    ) -> tuple[str | int, Reply | None]:
        """(failure kind or status, the reply if any); the replica's breaker is told."""
        base, ticket = self.upstreams.admit(service)
        try:
            async with asyncio.timeout(deadline - self.clock()):
                reply = await self.engine.send(
                    method, base + target, headers, body.payload(), budget
                )
        except TimeoutError:
            self.upstreams.failed(service, base, ticket)
            raise
        except (ConnectFailed, TransportFailed) as error:
            if body.client_gone:  # the client hung up mid-upload: says nothing of the upstream
                self.upstreams.release(service, base, ticket)
                raise ClientDisconnect() from error
            self.upstreams.failed(service, base, ticket)
            return ("connect" if isinstance(error, ConnectFailed) else "transport"), None
        except BaseException:
            self.upstreams.release(service, base, ticket)
            raise
        self.upstreams.record(service, base, ticket, reply.status)
        return reply.status, reply

    async def fetch(
        self, service: str, path: str, headers: list[tuple[str, str]], timeout_s: float
    ) -> tuple[int, bytes]:
        """GET ``path`` of ``service`` and read the whole body: one attempt, through its breaker.

        Raises the 503 problem when the circuit is open, TimeoutError, ConnectFailed or
        TransportFailed.
        """
        base, ticket = self.upstreams.admit(service)
        try:
            async with asyncio.timeout(timeout_s):
                reply = await self.engine.send("GET", base + path, headers, None, timeout_s)
                try:
                    body = await reply.read()
                finally:
                    await reply.aclose()
        except (TimeoutError, ConnectFailed, TransportFailed):
            self.upstreams.failed(service, base, ticket)
            raise
        except BaseException:
            self.upstreams.release(service, base, ticket)
            raise
        self.upstreams.record(service, base, ticket, reply.status)
        return reply.status, body


def _raw_target(scope: Scope) -> str:
    """Path and query as the client sent them (still percent-encoded)."""
    raw_path: bytes | None = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else scope["path"]
    query: bytes = scope.get("query_string", b"")
    return f"{path}?{query.decode('latin-1')}" if query else path


# --- wiring -------------------------------------------------------------------------------


def install_proxy(
    app: FastAPI,
    settings: Settings,
    *,
    before_forward: BeforeForward | None = None,
    engine: EngineName | None = None,
) -> Proxy:
    """Serve ``/v1/{path}`` (every method) by forwarding; the engine lives in the lifespan.

    ``before_forward(request)`` runs first on every proxied request (authentication,
    rate limits): it may raise a servicekit Problem. ``request.state.upstream`` then
    names the owning service, or is None for a path no service serves. The engine is
    ``engine``, else ``settings.proxy_engine`` if the settings have one, else aiohttp.
    Replaces an existing ``/v1/{path}`` route; the proxy route is moved behind every
    other route at startup, so the gateway's own ``/v1/...`` routes always win; a copy of
    it goes first for the prefixes none of them can match (``unshadowed``).
    """
    proxy = Proxy(settings, before_forward=before_forward)
    app.state.proxy = proxy
    route = Route(PROXY_PATH, proxy.handle, methods=PROXIED_METHODS, include_in_schema=False)
    app.router.routes[:] = [r for r in app.router.routes if getattr(r, "path", "") != PROXY_PATH]
    app.router.routes.append(route)
    name: EngineName = engine or getattr(settings, "proxy_engine", None) or "aiohttp"
    _wrap_lifespan(app, proxy, route, name)
    return proxy


def _wrap_lifespan(app: FastAPI, proxy: Proxy, route: Route, name: EngineName) -> None:
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        routes = app.router.routes
        # By identity: routes compare equal by path, endpoint and methods, and the shortcut
        # is the proxy route's twin.
        installed = any(r is route for r in routes)
        own = [r for r in routes if r is not route and not isinstance(r, ServicePrefixRoute)]
        below = unshadowed(proxy.table.prefixes, own)
        shortcut = [ServicePrefixRoute(proxy.handle, below)] if below else []
        # The proxy route last: routes included after install_proxy still come first.
        routes[:] = [*shortcut, *own, *([route] if installed else [])]
        proxy.engine = open_engine(name)
        proxy.upstreams.start_watch()
        try:
            async with inner(app) as state:
                yield state
        finally:
            await proxy.upstreams.stop()
            await proxy.engine.aclose()
            proxy.engine = None

    app.router.lifespan_context = lifespan


def install_cors(app: FastAPI, settings: Settings) -> None:
    """Browsers on ``settings.cors_origins`` may call the API (nothing when the list is empty).

    Add it last, so it is the outermost middleware: preflights never reach authentication.
    """
    if not settings.cors_origins:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=PROXIED_METHODS,
        allow_headers=[
            "Authorization",
            "Content-Type",
            "X-Api-Key",
            "X-Request-Id",
            "Idempotency-Key",
            "traceparent",
        ],
        expose_headers=["X-Request-Id", "Retry-After", "traceparent"],
        allow_credentials=False,  # bearer tokens, not cookies
        max_age=600,
    )
