"""CloudEvents 1.0 envelope over the Kafka protocol binding, binary content mode."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from servicekit import tracing
from servicekit.types import utcnow

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"

Headers = Sequence[tuple[str, bytes]]


class EnvelopeError(ValueError):
    """A Kafka record that is not a valid Quanzi CloudEvent."""


@dataclass(frozen=True)
class Event:
    """One integration event. ``type`` is an explicit versioned string, never a class name.

    ``key`` is the aggregate that needs ordering (usually the member or the community).
    """

    type: str
    source: str
    tenant_id: str
    topic: str
    data: dict[str, Any]
    key: str | None = None
    subject: str | None = None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time: datetime = field(default_factory=utcnow)
    traceparent: str | None = None

    def kafka_headers(self) -> list[tuple[str, bytes]]:
        headers = {
            "ce_specversion": SPEC_VERSION,
            "ce_id": self.id,
            "ce_type": self.type,
            "ce_source": self.source,
            "ce_time": self.time.isoformat(),
            "ce_tenantid": self.tenant_id,
            "content-type": CONTENT_TYPE,
        }
        if self.subject is not None:
            headers["ce_subject"] = self.subject
        if self.traceparent is not None:
            headers["traceparent"] = self.traceparent
        return [(name, value.encode()) for name, value in headers.items()]

    def kafka_value(self) -> bytes:
        return json.dumps(self.data, separators=(",", ":"), ensure_ascii=False).encode()


def new_event(
    *,
    type: str,
    source: str,
    tenant_id: str,
    topic: str,
    data: dict[str, Any],
    key: str | None = None,
    subject: str | None = None,
) -> Event:
    """An event in the current trace (a child span of the request or handler that made it)."""
    return Event(
        type=type,
        source=source,
        tenant_id=tenant_id,
        topic=topic,
        data=data,
        key=key,
        subject=subject,
        traceparent=tracing.child_of(tracing.current_traceparent.get()),
    )


def decode(topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> Event:
    """Parse a Kafka record; raises EnvelopeError when it is not a valid event."""
    found = {name: raw.decode("utf-8", "replace") for name, raw in headers if raw is not None}
    required = ("ce_specversion", "ce_id", "ce_type", "ce_source", "ce_tenantid")
    missing = [h for h in required if not found.get(h)]
    if missing:
        raise EnvelopeError(f"missing CloudEvents headers: {', '.join(missing)}")
    if found["ce_specversion"] != SPEC_VERSION:
        raise EnvelopeError(f"unsupported specversion {found['ce_specversion']!r}")
    try:
        data = json.loads(value) if value else {}
        time = datetime.fromisoformat(found["ce_time"]) if "ce_time" in found else utcnow()
        text_key = key.decode() if key else None
    except (ValueError, UnicodeDecodeError) as error:
        raise EnvelopeError(f"undecodable event: {error}") from error
    if not isinstance(data, dict):
        raise EnvelopeError("event data must be a JSON object")
    return Event(
        id=found["ce_id"],
        type=found["ce_type"],
        source=found["ce_source"],
        tenant_id=found["ce_tenantid"],
        topic=topic,
        data=data,
        key=text_key,
        subject=found.get("ce_subject"),
        time=time,
        traceparent=found.get("traceparent"),
    )
