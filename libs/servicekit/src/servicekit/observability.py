"""JSON logs with request and trace ids, request context, HTTP metrics, body size limit."""

from __future__ import annotations

import logging
import sys
import time
import uuid
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from pythonjsonlogger.json import JsonFormatter
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicekit import tracing
from servicekit.problems import status_problem

REQUESTS = Counter(
    "quanzi_http_requests_total", "HTTP requests", ["service", "method", "route", "status"]
)
LATENCY = Histogram(
    "quanzi_http_request_seconds",
    "HTTP request latency",
    ["service", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
# Requests the service has received and not answered yet (a scrape counts itself): what a
# graceful shutdown drains, and a signal for scaling.
IN_FLIGHT = Gauge(
    "quanzi_http_requests_in_flight", "HTTP requests being handled", ["service", "method"]
)
REQUEST_ID_HEADER = "x-request-id"
log = logging.getLogger(__name__)


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = tracing.current_request_id.get()
        record.trace_id = tracing.trace_id(tracing.current_traceparent.get())
        return True


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_ContextFilter())
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(trace_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            static_fields={"service": service},
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiokafka").setLevel(logging.WARNING)


class RequestContextMiddleware:
    """Request id and trace context for each request; HTTP metrics per route template."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        request_id = _clean_request_id(headers.get(b"x-request-id", b"").decode("latin-1"))
        traceparent = tracing.child_of(headers.get(b"traceparent", b"").decode("latin-1"))
        request_token = tracing.current_request_id.set(request_id)
        trace_token = tracing.current_traceparent.set(traceparent)
        started = time.perf_counter()
        status = 500
        response_started = False
        in_flight = IN_FLIGHT.labels(self.service, scope.get("method", ""))
        in_flight.inc()

        async def send_with_context(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status, response_started = message["status"], True
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode()),
                    (b"traceparent", traceparent.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_context)
        except Exception:
            # Answered here, while the request id is still known, so the 500 carries it.
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if response_started:
                raise
            problem = status_problem(500, "An unexpected error occurred; quote the request id.")
            await problem(scope, receive, send_with_context)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope.get("method", "")
            REQUESTS.labels(self.service, method, route, str(status)).inc()
            LATENCY.labels(self.service, method, route).observe(time.perf_counter() - started)
            in_flight.dec()
            tracing.current_request_id.reset(request_token)
            tracing.current_traceparent.reset(trace_token)


def _clean_request_id(value: str) -> str:
    if value and len(value) <= 128 and value.isprintable():
        return value
    return uuid.uuid4().hex


class BodySizeLimitMiddleware:
    """413 problem when a request body exceeds ``max_bytes`` (declared or streamed)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(scope, receive, send)
            return
        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # An HTTPException passes through FastAPI's body parsing untouched.
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if response_started:
                raise
            await self._reject(scope, receive, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        await status_problem(413, BodyTooLarge(self.max_bytes).detail)(scope, receive, send)


class BodyTooLarge(StarletteHTTPException):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"the request body is limited to {max_bytes} bytes")


async def metrics_endpoint(_request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def json_ready(checks: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    ready = all(check == "ok" for check in checks.values())
    return (200 if ready else 503), {
        "status": "ready" if ready else "unavailable",
        "checks": checks,
    }
