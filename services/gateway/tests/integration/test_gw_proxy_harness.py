"""Harness for the gateway's integration tests (no tests here): real HTTP servers.

Upstreams and gateways run as uvicorn servers on free ports, all on one event
loop in a background thread, so the tests can talk to them with plain blocking
clients (schemathesis included). Sibling test modules load it by path: test
directories are not packages.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator
from concurrent.futures import Future
from typing import Annotated, Any

import uvicorn
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from gateway.api import me
from gateway.openapi import install_docs
from gateway.proxy import BeforeForward, install_proxy
from gateway.settings import Settings
from servicekit.auth import TokenVerifier
from servicekit.devbroker import free_port
from servicekit.observability import RequestContextMiddleware
from servicekit.problems import install_problem_handlers
from servicekit.testing import TokenMint

CHUNK = bytes(range(256)) * 256  # 64 KiB


class ServerThread:
    """uvicorn servers sharing one event loop in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.servers: dict[str, tuple[uvicorn.Server, Future[None]]] = {}

    def serve(self, app: Any, port: int | None = None) -> str:
        port = port or free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", access_log=False
        )
        server = uvicorn.Server(config)
        done = asyncio.run_coroutine_threadsafe(server.serve(), self.loop)
        deadline = time.monotonic() + 10
        while not server.started:
            if done.done() or time.monotonic() > deadline:
                raise RuntimeError(f"server on port {port} did not start")
            time.sleep(0.01)
        url = f"http://127.0.0.1:{port}"
        self.servers[url] = (server, done)
        return url

    def stop(self, url: str) -> None:
        server, done = self.servers.pop(url)
        server.should_exit = True
        done.result(timeout=15)

    def close(self) -> None:
        for url in list(self.servers):
            self.stop(url)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


class Item(BaseModel):
    """The same schema name in every upstream: the merged docs must keep them apart."""

    name: str = Field(min_length=1, max_length=40)
    quantity: int = Field(ge=0, le=1000)


class StoredItem(Item):
    id: int
    owner: str


class Upstream:
    """A stand-in service with the endpoints the tests need; counts what it saw."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.hits: Counter[str] = Counter()
        self.modes: dict[str, str] = {}  # me part -> ok | slow | 404 | garbage
        self.upload_seen = threading.Event()
        self.download_go = threading.Event()
        self.download_waited: bool | None = None
        self.items: dict[int, StoredItem] = {}

    def app(self) -> FastAPI:
        app = FastAPI(title=self.name)
        prefix = f"/v1/{self.name}"
        methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
        app.add_api_route(prefix + "/echo", self.echo, methods=methods, include_in_schema=False)
        app.add_api_route(
            prefix + "/echo/{rest:path}", self.echo, methods=methods, include_in_schema=False
        )
        app.add_api_route(
            prefix + "/upload", self.upload, methods=["POST", "PUT"], include_in_schema=False
        )
        app.add_api_route(prefix + "/download", self.download, include_in_schema=False)
        app.add_api_route(prefix + "/slow", self.slow, include_in_schema=False)
        app.add_api_route(
            prefix + "/flaky/{key}",
            self.flaky,
            methods=["GET", "POST", "PUT"],
            include_in_schema=False,
        )
        app.add_api_route(prefix + "/headers-out", self.headers_out, include_in_schema=False)
        app.add_api_route(prefix + "/gzip", self.gzipped, include_in_schema=False)
        for part in ("profile", "memberships", "summary"):
            app.add_api_route(prefix + f"/me/{part}", self.me_part, include_in_schema=False)
        self._documented_routes(app, prefix)
        return app

    def _documented_routes(self, app: FastAPI, prefix: str) -> None:
        """What the merged docs and schemathesis see."""
        app.add_api_route(
            prefix + "/items",
            self.create_item,
            methods=["POST"],
            status_code=201,
            response_model=StoredItem,
            tags=["items"],
        )
        app.add_api_route(
            prefix + "/items/{item_id}", self.get_item, response_model=StoredItem, tags=["items"]
        )
        app.add_api_route(
            prefix + "/search", self.search, response_model=list[StoredItem], tags=["items"]
        )
        # Not this service's through the gateway: must stay out of the merged docs.
        app.add_api_route("/v1/elsewhere/thing", self.search)
        app.add_api_route("/internal/stats", self.search)
        if self.name == "onboarding":
            app.add_api_route("/v1/rewards/stolen", self.search)

    async def echo(self, request: Request) -> JSONResponse:
        body = await request.body()
        self.hits["echo"] += 1
        return JSONResponse(
            {
                "method": request.method,
                "raw_path": request.scope["raw_path"].decode(),
                "query": request.scope["query_string"].decode(),
                "headers": [[k.decode(), v.decode()] for k, v in request.scope["headers"]],
                "body_length": len(body),
            }
        )

    async def upload(self, request: Request) -> dict[str, Any]:
        digest, size = hashlib.sha256(), 0
        async for chunk in request.stream():
            if chunk and not self.upload_seen.is_set():
                self.upload_seen.set()
            digest.update(chunk)
            size += len(chunk)
        return {"sha256": digest.hexdigest(), "size": size, "headers": dict(request.headers)}

    async def download(self, chunks: int = 64) -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            yield CHUNK
            # The client must get the first chunk before the rest exists: proof of streaming.
            self.download_waited = await asyncio.to_thread(self.download_go.wait, 5)
            for _ in range(chunks - 1):
                yield CHUNK

        return StreamingResponse(body(), media_type="application/octet-stream")

    async def slow(self, seconds: float = 2.0) -> dict[str, str]:
        await asyncio.sleep(seconds)
        return {"status": "late"}

    async def flaky(self, key: str, request: Request, fail: int = 0) -> JSONResponse:
        await request.body()
        self.hits[key] += 1
        status = 503 if self.hits[key] <= fail else 200
        return JSONResponse({"hits": self.hits[key]}, status_code=status)

    async def headers_out(self) -> Response:
        response = PlainTextResponse("ok")
        for name, value in [
            ("connection", "x-internal"),
            ("x-internal", "secret"),
            ("keep-alive", "timeout=5"),
            ("proxy-authenticate", "Basic"),
            ("x-kept", "yes"),
            ("x-request-id", "upstream-made-this-up"),
            ("set-cookie", "a=1"),
            ("set-cookie", "b=2"),
        ]:
            response.raw_headers.append((name.encode(), value.encode()))
        return response

    async def gzipped(self) -> Response:
        body = gzip.compress(b"squeezed " * 1000, mtime=0)
        return Response(body, media_type="text/plain", headers={"content-encoding": "gzip"})

    async def me_part(self, request: Request) -> Response:
        part = request.url.path.rsplit("/", 1)[1]
        mode = self.modes.get(part, "ok")
        if mode == "slow":
            await asyncio.sleep(2)
        if mode == "404":
            return JSONResponse({"detail": "no"}, status_code=404)
        if mode == "garbage":
            return PlainTextResponse("not json")
        return JSONResponse(
            {"part": part, "service": self.name, "auth": request.headers.get("authorization")}
        )

    async def create_item(self, item: Item) -> StoredItem:
        stored = StoredItem(**item.model_dump(), id=len(self.items) + 1, owner=self.name)
        self.items[stored.id] = stored
        return stored

    async def get_item(self, item_id: int) -> StoredItem:
        if item_id not in self.items:
            raise HTTPException(404, "no such item")
        return self.items[item_id]

    async def search(
        self,
        q: Annotated[str, Query(max_length=40)] = "",
        limit: Annotated[int, Query(ge=1, le=50)] = 10,
    ) -> list[StoredItem]:
        return [item for item in self.items.values() if q in item.name][:limit]


def gateway_settings(upstreams: dict[str, str], **overrides: Any) -> Settings:
    return Settings(
        upstreams=upstreams,
        routes={f"/v1/{name}": name for name in upstreams},
        **overrides,
    )


def gateway_app(
    settings: Settings, mint: TokenMint, before_forward: BeforeForward | None = None
) -> FastAPI:
    """The gateway's HTTP surface as the lead will wire it, minus database and identity."""
    app = FastAPI(title="Quanzi gateway", version="0.1.0")
    app.state.settings = settings
    app.state.token_verifier = TokenVerifier(
        issuer=mint.issuer, audience=mint.audience, algorithms=["EdDSA"], jwks=mint.jwks()
    )
    install_problem_handlers(app)
    app.add_middleware(RequestContextMiddleware, service="gateway")
    install_proxy(app, settings, before_forward=before_forward)
    app.include_router(me.router)  # after install_proxy on purpose: the route must still win
    install_docs(app, settings)
    return app


def dead_url() -> str:
    """A port nothing listens on."""
    return f"http://127.0.0.1:{free_port()}"
