"""Forwarding ``/v1/...`` to the owning service by the route table, bodies streamed."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from fastapi import Request
from starlette.background import BackgroundTask
from starlette.responses import Response, StreamingResponse

from servicekit import tracing
from servicekit.problems import Problem

# RFC 9110 §7.6.1: meaningful for one connection only, never forwarded.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)


class RouteTable:
    def __init__(self, routes: Mapping[str, str], upstreams: Mapping[str, str]) -> None:
        unknown = set(routes.values()) - set(upstreams)
        if unknown:
            raise ValueError(f"routes name unknown upstreams: {sorted(unknown)}")
        self._routes = sorted(routes.items(), key=lambda item: len(item[0]), reverse=True)
        self.upstreams = dict(upstreams)

    def resolve(self, path: str) -> tuple[str, str] | None:
        """(service, base URL) owning ``path``: longest prefix on a path-segment boundary."""
        for prefix, service in self._routes:
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return service, self.upstreams[service]
        return None


def _forward_headers(request: Request) -> list[tuple[str, str]]:
    headers = [(k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP]
    headers = [(k, v) for k, v in headers if k.lower() not in ("x-request-id", "traceparent")]
    request_id = tracing.current_request_id.get()
    if request_id:
        headers.append(("x-request-id", request_id))
    traceparent = tracing.current_traceparent.get()
    if traceparent:
        headers.append(("traceparent", traceparent))
    headers.append(("x-forwarded-for", request.client.host if request.client else ""))
    return headers


async def forward(request: Request, client: httpx.AsyncClient, table: RouteTable) -> Response:
    target = table.resolve(request.url.path)
    if target is None:
        raise Problem(404, "not-found", "Not Found", f"no service serves {request.url.path}")
    service, base = target
    upstream = client.build_request(
        request.method,
        # The query string travels as the client wrote it.
        base + request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        headers=_forward_headers(request),
        content=request.stream(),
    )
    try:
        response = await client.send(upstream, stream=True)
    except httpx.TimeoutException as error:
        raise Problem(
            504, "upstream-timeout", "Upstream timeout", f"{service} did not answer in time"
        ) from error
    except httpx.TransportError as error:
        raise Problem(502, "bad-gateway", "Bad Gateway", f"{service} is unreachable") from error
    headers = {k: v for k, v in response.headers.items() if k.lower() not in HOP_BY_HOP}
    for own in ("x-request-id", "traceparent"):
        headers.pop(own, None)  # the gateway's own middleware sets them
    return StreamingResponse(
        response.aiter_raw(),
        status_code=response.status_code,
        headers=headers,
        background=BackgroundTask(response.aclose),
    )
