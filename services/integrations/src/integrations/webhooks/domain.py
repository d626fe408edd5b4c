"""Outbound webhooks' rules, pure: which events an endpoint subscribes to, the public name of
an event, the retry schedule, when an endpoint is disabled, Standard Webhooks signatures and
which addresses a delivery may reach (SSRF).

No I/O here: resolving a host name and sending are the delivery's (``delivery.py``); this
module decides from the values they found.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

# --- event types and subscriptions ---------------------------------------------------------

TEST_EVENT = "webhook.test"
# A subscription pattern: "*", a type ("membership.activated") or a prefix wildcard
# ("membership.*", "points.*").
PATTERN = r"^(\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?)$"
_PATTERN = re.compile(PATTERN)
MAX_PATTERNS = 50


def public_type(event_type: str) -> str:
    """The name a tenant's systems see: ``quanzi.onboarding.membership.activated.v1`` →
    ``membership.activated`` (no platform prefix, no producing service, no version)."""
    parts = event_type.split(".")
    if len(parts) >= 5 and parts[0] == "quanzi" and re.fullmatch(r"v\d+", parts[-1]):
        return ".".join(parts[2:-1])
    return event_type


def valid_pattern(pattern: str) -> bool:
    return bool(_PATTERN.fullmatch(pattern))


def matches(pattern: str, event_type: str) -> bool:
    """Whether ``pattern`` selects the public ``event_type``: ``*`` every type, ``a.*`` every
    type under ``a`` (by whole segments: ``member.*`` does not select ``membership.x``), else
    the exact type."""
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type


def subscribed(patterns: Iterable[str], event_type: str) -> bool:
    """The test event reaches every endpoint it is sent to, whatever it subscribes to."""
    return event_type == TEST_EVENT or any(matches(p, event_type) for p in patterns)


# --- payload -------------------------------------------------------------------------------


def message_id(event_id: str) -> str:
    """The ``webhook-id`` of an event's message: the same on every attempt and endpoint, so
    a receiver can drop what it has seen."""
    return "msg_" + re.sub(r"[^A-Za-z0-9]", "", event_id)[:64]


def body(event_type: str, at: datetime, data: dict[str, Any]) -> str:
    """The JSON body (Standard Webhooks: ``type``, ``timestamp``, ``data``), fixed once."""
    payload = {"type": event_type, "timestamp": at.isoformat(), "data": data}
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def order_key(data: dict[str, Any]) -> str | None:
    """Messages about one member reach an endpoint in order; others in any order."""
    member = data.get("member_id")
    return str(member) if member else None


# --- retries -------------------------------------------------------------------------------

# After the first attempt fails: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, then failed.
SCHEDULE: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
MAX_ATTEMPTS = len(SCHEDULE) + 1


def next_delay(attempts: int, retry_after: timedelta | None = None) -> timedelta | None:
    """How long after its ``attempts``-th failed attempt a message is tried again, or None
    when it has failed for good. A ``Retry-After`` the receiver sent postpones the retry
    (never brings it forward), up to the schedule's longest step."""
    if attempts < 1 or attempts > len(SCHEDULE):
        return None
    delay = SCHEDULE[attempts - 1]
    if retry_after is not None and retry_after > delay:
        delay = min(retry_after, max(SCHEDULE))
    return delay


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """``Retry-After`` as seconds or an HTTP date; anything else is ignored."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value[:9]))
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(when - now, timedelta(0))


def delivered(status_code: int | None) -> bool:
    return status_code is not None and 200 <= status_code < 300


def should_disable(failing_since: datetime | None, now: datetime, after: timedelta) -> bool:
    """An endpoint that has not answered 2xx since ``failing_since`` for ``after`` is
    disabled (a duration: nothing here depends on a local day)."""
    return failing_since is not None and now - failing_since >= after


# --- rate limits ---------------------------------------------------------------------------

# An endpoint may set ``rate_limit_per_s``: attempts to it start at least 1/rate apart, so it
# never gets more than that many a second; other endpoints are never slowed by it.
MAX_RATE_PER_S = 1000.0
# A slot this close is waited for in the dispatcher (the claim's lease covers the wait); a
# later one waits as an attempt timer, so that no process holds long queues in memory.
RATE_HORIZON = timedelta(seconds=2)


def reserve(
    next_free: datetime | None, now: datetime, rate_per_s: float | None
) -> tuple[datetime, datetime | None]:
    """The slot (the earliest start) of the next attempt to an endpoint, and the endpoint's
    next free instant after taking it. Slots are handed out in order, each ``1/rate`` after
    the previous one and never before ``now``; without a limit the slot is ``now`` and
    nothing is reserved."""
    if rate_per_s is None:
        return now, next_free
    slot = now if next_free is None or next_free < now else next_free
    return slot, slot + timedelta(seconds=1 / rate_per_s)


def goes_now(slot: datetime, now: datetime) -> bool:
    """Whether an attempt whose slot is ``slot`` is handed to the dispatcher now (it waits
    there for its slot) rather than left to an attempt timer at the slot."""
    return slot - now <= RATE_HORIZON


def next_start(last_start: float | None, earliest: float, rate_per_s: float) -> float:
    """When a process starts its next attempt to a limited endpoint (monotonic seconds):
    not before its slot (``earliest``) and ``1/rate`` after the previous start, also when
    timers fired late hand it several slots at once."""
    if last_start is None:
        return earliest
    return max(earliest, last_start + 1 / rate_per_s)


# --- signing (Standard Webhooks) -----------------------------------------------------------

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(secret: str, msg_id: str, timestamp: int, payload: str) -> str:
    """``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``."""
    signed = f"{msg_id}.{timestamp}.{payload}".encode()
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signing_secrets(
    secret: str, previous: str | None, previous_until: datetime | None, now: datetime
) -> list[str]:
    """The secrets that sign now: the current one, and the previous one during the overlap
    after a rotation (receivers may still hold it)."""
    keys = [secret]
    if previous and previous_until is not None and now < previous_until:
        keys.append(previous)
    return keys


def headers(msg_id: str, at: datetime, payload: str, keys: Sequence[str]) -> dict[str, str]:
    timestamp = int(at.timestamp())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(k, msg_id, timestamp, payload) for k in keys),
        "content-type": "application/json",
    }


# --- where a delivery may go (SSRF) --------------------------------------------------------


class InvalidEndpoint(ValueError):
    pass


class Blocked(StrEnum):
    LOOPBACK = "loopback"
    PRIVATE = "private"
    LINK_LOCAL = "link-local"
    METADATA = "metadata"
    RESERVED = "reserved"


_METADATA = {
    ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, Alibaba's ECS...
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
    ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
}
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


def blocked(address: str) -> Blocked | None:
    """Why a delivery may not connect to ``address`` (an IP literal), or None: loopback,
    private (RFC 1918, unique-local, CGNAT), link-local, cloud metadata and every other
    address that is not globally routable. IPv4 inside IPv6 is judged as IPv4."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return Blocked.RESERVED
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is not None:
            return blocked(str(embedded))
    if ip in _METADATA:
        return Blocked.METADATA
    if ip.is_loopback:
        return Blocked.LOOPBACK
    if ip.is_link_local:
        return Blocked.LINK_LOCAL
    if ip.is_private or ip in ipaddress.ip_network("100.64.0.0/10"):
        return Blocked.PRIVATE
    if not ip.is_global or ip.is_multicast:
        return Blocked.RESERVED
    return None


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # lower case, without brackets
    port: int

    @property
    def literal(self) -> bool:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return False
        return True


def target(url: str, *, allow_http: bool) -> Target:
    """Where ``url`` points, or ``InvalidEndpoint``: an absolute https URL (http too where
    allowed) with a host, no user info, no fragment."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise InvalidEndpoint(f"not a URL: {error}") from None
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes:
        raise InvalidEndpoint(f"the URL must use {' or '.join(schemes)}")
    if not parts.hostname:
        raise InvalidEndpoint("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise InvalidEndpoint("the URL may not carry credentials")
    if parts.fragment:
        raise InvalidEndpoint("the URL may not have a fragment")
    default = 443 if parts.scheme == "https" else 80
    return Target(parts.scheme, parts.hostname.lower().rstrip("."), port or default)


def refused_host(host: str) -> Blocked | None:
    """A name refused without resolving it (it can only mean this machine), or an IP
    literal's verdict."""
    if host in _LOCAL_NAMES or host.endswith(".localhost"):
        return Blocked.LOOPBACK
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return None
    return blocked(host)


def first_allowed(addresses: Sequence[str]) -> tuple[str | None, Blocked | None]:
    """The address to connect to: none if any resolved address is blocked (a name that
    resolves to one private address among public ones is refused whole), else the first."""
    for address in addresses:
        reason = blocked(address)
        if reason is not None:
            return None, reason
    return (addresses[0], None) if addresses else (None, None)
