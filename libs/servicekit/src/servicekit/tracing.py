"""W3C trace context carried across HTTP, the outbox, Kafka headers and handlers."""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar

TRACEPARENT_RE = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")

current_traceparent: ContextVar[str | None] = ContextVar("current_traceparent", default=None)
current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)


def parse(traceparent: str | None) -> tuple[str, str, str] | None:
    """Trace id, parent span id and flags of a valid header, else None."""
    if not traceparent:
        return None
    match = TRACEPARENT_RE.match(traceparent.strip().lower())
    if match is None or match.group(1) == "0" * 32 or match.group(2) == "0" * 16:
        return None
    return match.group(1), match.group(2), match.group(3)


def child_of(traceparent: str | None) -> str:
    """A new span in the same trace, or a new trace when there is none."""
    parsed = parse(traceparent)
    trace_id, flags = (parsed[0], parsed[2]) if parsed else (secrets.token_hex(16), "01")
    return f"00-{trace_id}-{secrets.token_hex(8)}-{flags}"


def trace_id(traceparent: str | None) -> str | None:
    parsed = parse(traceparent)
    return parsed[0] if parsed else None
