"""One OpenAPI document for the whole platform: the gateway's paths plus every service's.

Each service's ``/openapi.json`` is fetched concurrently with a timeout and the
result cached for ``DOCS_CACHE_S``. A service that does not answer is listed in
``info.x-missing-services``; the document is still served. A service contributes
only the ``/v1/...`` paths the route table sends to it, so each path appears once,
described by the service that really answers it. Component names are prefixed
with the service (``rewards.Grant``) so two services' ``Item`` schemas never collide.
Errors are then documented once for the whole platform (servicekit's
``document_problems``: one ``Problem``, problem+json), with what the gateway adds in
front of every route (429) and of a service's (502/503/504, and an API key wherever a
token works).
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from gateway.domain.balance import replica_bases
from gateway.engines import ConnectFailed, Engine, TransportFailed
from gateway.proxy import Proxy
from gateway.routing import RouteTable
from gateway.settings import Settings
from servicekit.problems import document_problems

DOCS_CACHE_S = 30.0
MISSING_CACHE_S = 5.0  # a document with a missing service is rebuilt sooner
FETCH_TIMEOUT_S = 3.0
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})

SECURITY_SCHEMES: dict[str, Any] = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An access or member token signed by the gateway (JWKS at "
        "/.well-known/jwks.json); every service verifies it itself.",
    },
    "apiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Api-Key",
        "description": "A tenant's server API key (scoped, revocable).",
    },
    "platformAdmin": {
        "type": "http",
        "scheme": "bearer",
        "description": "The platform administrator's key.",
    },
}


# What the gateway itself may answer in front of any route.
GATEWAY_STATUSES = (429,)
# ... and in front of a service's route: the upstream is down, broken or slow.
UPSTREAM_STATUSES = ("502", "503", "504")


def merge(
    own: Mapping[str, Any],
    specs: Mapping[str, Mapping[str, Any]],
    missing: Mapping[str, str],
    table: RouteTable,
) -> dict[str, Any]:
    """The merged document (pure: ``own`` and ``specs`` are left untouched)."""
    doc = copy.deepcopy(dict(own))
    doc["info"] = {
        **doc.get("info", {}),
        "title": "Quanzi API",
        "description": "Every service of the platform, through the gateway.",
        "x-missing-services": sorted(missing),
    }
    doc.pop("servers", None)
    paths: dict[str, Any] = doc.setdefault("paths", {})
    components: dict[str, Any] = doc.setdefault("components", {})
    own_schemes = components.pop("securitySchemes", {})
    for item in paths.values():
        _adopt_operations(item, "gateway", _scheme_names(own_schemes, None), keep_tags=True)
    schemes = {k: v for k, v in own_schemes.items() if _scheme_name(k, v, None) == k}
    for service in sorted(specs):
        _add_service(paths, components, schemes, service, specs[service], table)
    components["securitySchemes"] = {**schemes, **SECURITY_SCHEMES}
    # One Problem schema for the whole platform; the gateway rate-limits every route.
    schemas = components.setdefault("schemas", {})
    replaced = (".Problem", ".HTTPValidationError", ".ValidationError")  # FastAPI's names
    for name in [n for n in schemas if n.endswith(replaced)]:
        del schemas[name]
    document_problems(doc, every_operation=GATEWAY_STATUSES)
    named = {tag.get("name") for tag in doc.get("tags", [])}
    doc["tags"] = doc.get("tags", []) + [{"name": n} for n in sorted(specs) if n not in named]
    return doc


def _add_service(
    paths: dict[str, Any],
    components: dict[str, Any],
    schemes: dict[str, Any],
    service: str,
    spec: Mapping[str, Any],
    table: RouteTable,
) -> None:
    spec = namespaced(spec, service)
    upstream_schemes = spec.get("components", {}).get("securitySchemes", {})
    names = _scheme_names(upstream_schemes, service)
    for path, item in spec.get("paths", {}).items():
        owner = table.resolve(path)
        # Only what this service answers through the gateway; the gateway's own win.
        if path.startswith("/v1/") and owner and owner[0] == service and path not in paths:
            paths[path] = _adopt_operations(item, service, names, keep_tags=False)
            _through_gateway(paths[path])
    for kind, entries in spec.get("components", {}).items():
        if kind != "securitySchemes":
            components.setdefault(kind, {}).update(entries)
    for name, scheme in upstream_schemes.items():
        if names[name] != "bearerAuth":
            schemes[names[name]] = scheme


def _scheme_name(name: str, scheme: Mapping[str, Any], service: str | None) -> str:
    """The merged document's name for a scheme: ours when it means the same thing."""
    kind = scheme.get("type")
    if kind == "http" and str(scheme.get("scheme", "")).lower() == "bearer":
        # Services verify the gateway's JWTs: any bearer scheme but the admin's is bearerAuth.
        return name if name == "platformAdmin" else "bearerAuth"
    header = str(scheme.get("name", "")).lower() if scheme.get("in") == "header" else None
    if kind == "apiKey" and header == "x-api-key":
        return "apiKey"
    return f"{service}.{name}" if service else name


def _scheme_names(schemes: Mapping[str, Any], service: str | None) -> dict[str, str]:
    return {name: _scheme_name(name, scheme, service) for name, scheme in schemes.items()}


def _adopt_operations(
    item: dict[str, Any], service: str, schemes: Mapping[str, str], *, keep_tags: bool
) -> dict[str, Any]:
    """Tag the operations of a path item by service, rename security schemes, unique ids."""
    for method, operation in item.items():
        if method not in HTTP_METHODS or not isinstance(operation, dict):
            continue
        if not (keep_tags and operation.get("tags")):
            operation["tags"] = [service]
        if "operationId" in operation and not keep_tags:
            operation["operationId"] = f"{service}_{operation['operationId']}"
        if "security" in operation:
            operation["security"] = [
                {schemes.get(name, name): scopes for name, scopes in requirement.items()}
                for requirement in operation["security"]
            ]
    return item


def _through_gateway(item: dict[str, Any]) -> None:
    """A service's operation as the gateway exposes it: an API key works wherever a token
    does (the gateway exchanges it for a token with the key's scopes), and the upstream
    may fail."""
    for method, operation in item.items():
        if method in HTTP_METHODS and isinstance(operation, dict):
            security = operation.get("security", [])
            if {"bearerAuth": []} in security and {"apiKey": []} not in security:
                operation["security"] = [*security, {"apiKey": []}]
            responses = operation.setdefault("responses", {})
            for status in UPSTREAM_STATUSES:
                responses.setdefault(status, {})


def namespaced(spec: Mapping[str, Any], service: str) -> dict[str, Any]:
    """A copy of ``spec`` whose components are named ``<service>.<name>``, refs rewritten."""
    out: dict[str, Any] = _rewrite_refs(copy.deepcopy(dict(spec)), service)
    components = out.get("components", {})
    for kind, entries in components.items():
        if kind != "securitySchemes" and isinstance(entries, dict):
            components[kind] = {f"{service}.{name}": value for name, value in entries.items()}
    return out


def _rewrite_refs(node: Any, service: str) -> Any:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                node[key] = _local_ref(value, service)
            elif key == "mapping" and isinstance(value, dict):  # discriminator mappings
                node[key] = {k: _local_ref(v, service) for k, v in value.items()}
            else:
                _rewrite_refs(value, service)
    elif isinstance(node, list):
        for value in node:
            _rewrite_refs(value, service)
    return node


def _local_ref(ref: str, service: str) -> str:
    parts = ref.split("/", 3)  # "#", "components", kind, name
    if len(parts) == 4 and parts[:2] == ["#", "components"] and parts[2] != "securitySchemes":
        return f"#/components/{parts[2]}/{service}.{parts[3]}"
    return ref


class MergedDocs:
    """The merged document, rebuilt at most every ``DOCS_CACHE_S`` seconds."""

    def __init__(
        self, app: FastAPI, settings: Settings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.app = app
        self.table = RouteTable(settings.routes, settings.upstreams)
        self.clock = clock
        self._doc: dict[str, Any] | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    async def get(self) -> dict[str, Any]:
        async with self._lock:  # one rebuild at a time; the others get its result
            if self._doc is None or self.clock() >= self._expires:
                specs, missing = await self._fetch_all()
                self._doc = merge(self.app.openapi(), specs, missing, self.table)
                ttl = MISSING_CACHE_S if missing else DOCS_CACHE_S
                self._expires = self.clock() + ttl
            return self._doc

    def invalidate(self) -> None:
        """Rebuild on the next request (e.g. a service was just deployed)."""
        self._doc = None

    async def _fetch_all(self) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
        names = sorted(self.table.upstreams)
        proxy: Proxy | None = getattr(self.app.state, "proxy", None)
        if proxy is not None and proxy.running:
            answers = await asyncio.gather(*(self._fetch(proxy.engine, n) for n in names))
        else:  # no proxy running (docs-only app): a session for this one refresh
            async with aiohttp.ClientSession(auto_decompress=True) as session:
                answers = await asyncio.gather(
                    *(_fetch_plain(session, self._url(n)) for n in names)
                )
        specs = {n: a for n, a in zip(names, answers, strict=True) if isinstance(a, dict)}
        missing = {n: a for n, a in zip(names, answers, strict=True) if isinstance(a, str)}
        return specs, missing

    def _url(self, service: str) -> str:
        # Replicas serve the same document: the first listed answers for them all.
        return replica_bases(self.table.upstreams[service])[0] + "/openapi.json"

    async def _fetch(self, engine: Engine, service: str) -> dict[str, Any] | str:
        """The service's document, or why there is none."""
        try:
            async with asyncio.timeout(FETCH_TIMEOUT_S):
                reply = await engine.send(
                    "GET",
                    self._url(service),
                    [("accept", "application/json")],
                    None,
                    FETCH_TIMEOUT_S,
                )
                try:
                    body = await reply.read()
                finally:
                    await reply.aclose()
        except TimeoutError:
            return "timeout"
        except (ConnectFailed, TransportFailed):
            return "unreachable"
        return _parse(reply.status, body)


async def _fetch_plain(session: aiohttp.ClientSession, url: str) -> dict[str, Any] | str:
    try:
        async with (
            asyncio.timeout(FETCH_TIMEOUT_S),
            session.get(url, allow_redirects=False) as response,
        ):
            return _parse(response.status, await response.read())
    except TimeoutError:
        return "timeout"
    except aiohttp.ClientError:
        return "unreachable"


def _parse(status: int, body: bytes) -> dict[str, Any] | str:
    if status != 200:
        return f"status {status}"
    try:
        spec = json.loads(body)
    except ValueError:
        return "invalid-json"
    return spec if isinstance(spec, dict) and isinstance(spec.get("paths"), dict) else "invalid"


def install_docs(app: FastAPI, settings: Settings) -> MergedDocs:
    """Serve the merged document at ``/openapi.json`` and Swagger UI at ``/docs``.

    Replaces FastAPI's own two routes; the gateway's own paths still come from
    ``app.openapi()``. Uses the proxy's engine when ``install_proxy`` ran.
    """
    docs = MergedDocs(app, settings)
    app.state.docs = docs
    replaced = {"/openapi.json", "/docs", app.openapi_url, app.docs_url}
    app.router.routes[:] = [r for r in app.router.routes if getattr(r, "path", "") not in replaced]

    async def openapi(_: Request) -> JSONResponse:
        return JSONResponse(await docs.get())

    async def swagger(_: Request) -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="Quanzi API")

    app.add_route("/openapi.json", openapi, include_in_schema=False)
    app.add_route("/docs", swagger, include_in_schema=False)
    return docs
