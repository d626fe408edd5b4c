"""Spreading a service's requests over its replicas.

An upstream is one base URL or several, comma-separated (``http://onboarding-0:8001,
http://onboarding-1:8001``); a name that resolves to several addresses (a Kubernetes
headless Service) becomes one replica per address when the gateway re-resolves it. Each
replica has its own circuit breaker: requests go round robin over the replicas whose
breaker admits them, so a replica that fails (connection refused, 502–504) or that reports
itself not ready stops getting traffic while the others carry it, and comes back when its
readiness probe answers 200.

Pure: the caller passes the time in and resolves names itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from urllib.parse import urlsplit, urlunsplit

from gateway.domain.circuit import CircuitBreaker, Ticket


def replica_bases(upstream: str) -> list[str]:
    """The base URLs an upstream setting names, in order, without trailing slashes; each
    must be an http(s) URL with a host (ValueError otherwise)."""
    bases = [part.strip().rstrip("/") for part in upstream.split(",") if part.strip()]
    if not bases:
        raise ValueError("an upstream needs at least one base URL")
    for base in bases:
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) base URL: {base!r}")
    if len(set(bases)) != len(bases):
        raise ValueError(f"a replica is listed twice in {upstream!r}")
    return bases


def with_address(base: str, address: str) -> str:
    """``base`` with its host replaced by one resolved ``address`` (IPv6 in brackets)."""
    parts = urlsplit(base)
    host = f"[{address}]" if ":" in address else address
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class Replicas:
    """One service's replicas, each with a breaker; round robin over those that admit."""

    def __init__(self, bases: Sequence[str], new_breaker: Callable[[], CircuitBreaker]) -> None:
        self._new_breaker = new_breaker
        self._breakers: dict[str, CircuitBreaker] = {}
        self._order: list[str] = []
        self._next = 0
        self.replace(bases)

    @property
    def bases(self) -> list[str]:
        return list(self._order)

    def breaker(self, base: str) -> CircuitBreaker:
        return self._breakers[base]

    def replace(self, bases: Sequence[str]) -> None:
        """The replicas now (a re-resolved name): a replica still there keeps its breaker,
        a new one starts closed. An empty answer keeps the replicas known so far."""
        if not bases:
            return
        self._breakers = {b: self._breakers.get(b) or self._new_breaker() for b in bases}
        self._order = list(bases)

    def choose(self, now: float) -> tuple[str, Ticket] | None:
        """The next replica (round robin) whose breaker admits a request, with its ticket;
        None when every circuit is open."""
        count = len(self._order)
        for step in range(count):
            base = self._order[(self._next + step) % count]
            ticket = self._breakers[base].acquire(now)
            if ticket is not None:
                self._next = (self._next + step + 1) % count
                return base, ticket
        return None

    def retry_after(self, now: float) -> int:
        """Whole seconds until the first replica may be tried again."""
        return min(breaker.retry_after(now) for breaker in self._breakers.values())
