"""Each upstream's replicas as the gateway sees them, and the watch that keeps that view true.

Requests go round robin over a service's replicas (``gateway.domain.balance``). Each
replica has a circuit breaker (``gateway.domain.circuit``), opened by failures or by a
readiness check that finds it not ready, and closed again as soon as its ``/readyz``
answers 200 (probed while it is open). In the background, names are re-resolved (a
Kubernetes headless Service lists its ready pods) and each replica of a service that has
several is asked for its readiness.
"""

from __future__ import annotations

import asyncio
import math
import socket
from collections.abc import Awaitable, Callable

from yarl import URL

from gateway.domain.balance import Replicas, replica_bases, with_address
from gateway.domain.circuit import CircuitBreaker, State, Ticket
from gateway.engines import ConnectFailed, Engine, TransportFailed
from gateway.settings import Settings
from servicekit.problems import Problem

READINESS_PATH = "/readyz"  # servicekit's: 200 once the database and broker answer
RETRY_STATUSES = frozenset({502, 503, 504})  # also count as failures for the breaker


def upstream_unavailable(service: str, retry_after: int) -> Problem:
    return Problem(
        503,
        "upstream-unavailable",
        "Upstream unavailable",
        f"{service} keeps failing; requests to it are paused",
        headers={"Retry-After": str(retry_after)},
    )


class Upstreams:
    """Which replica gets a request, what its answer tells the replica's breaker, and the
    background watch (``start_watch`` / ``stop``)."""

    def __init__(
        self,
        settings: Settings,
        engine: Callable[[], Engine],
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        def new_breaker() -> CircuitBreaker:
            return CircuitBreaker(settings.breaker_failure_threshold, settings.breaker_reset_s)

        self.configured = {name: replica_bases(v) for name, v in settings.upstreams.items()}
        self.replicas = {
            name: Replicas(bases, new_breaker) for name, bases in self.configured.items()
        }
        self.probe_interval_s = settings.breaker_probe_interval_s
        self.check_interval_s = settings.upstream_check_interval_s
        self.resolve_interval_s = settings.upstream_resolve_interval_s
        self._engine = engine
        self.clock = clock
        self.sleep = sleep
        self._probes: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._watch: asyncio.Task[None] | None = None

    def admit(self, service: str) -> tuple[str, Ticket]:
        """The replica to send to, and its ticket; 503 when every replica's circuit is open."""
        now = self.clock()
        chosen = self.replicas[service].choose(now)
        if chosen is None:
            raise upstream_unavailable(service, self.replicas[service].retry_after(now))
        return chosen

    def release(self, service: str, base: str, ticket: Ticket) -> None:
        """The exchange ended for a reason that says nothing of the replica."""
        self.replicas[service].breaker(base).release(ticket)

    def record(self, service: str, base: str, ticket: Ticket, status: int) -> None:
        # Any other answer, 500 included, shows the upstream is up and serving.
        if status in RETRY_STATUSES:
            self.failed(service, base, ticket)
        else:
            self.replicas[service].breaker(base).success(ticket, self.clock())

    def failed(self, service: str, base: str, ticket: Ticket) -> None:
        """Tell the replica's breaker; once it is open, watch the replica's readiness."""
        self.replicas[service].breaker(base).failure(ticket, self.clock())
        self._watch_until_ready(service, base)

    def _watch_until_ready(self, service: str, base: str) -> None:
        breaker = self.replicas[service].breaker(base)
        key = (service, base)
        if breaker.state(self.clock()) is not State.CLOSED and key not in self._probes:
            task = asyncio.create_task(self._probe_until_ready(service, base))
            self._probes[key] = task
            task.add_done_callback(lambda _: self._probes.pop(key, None))

    async def _probe_until_ready(self, service: str, base: str) -> None:
        """Ask the replica's ``/readyz`` every ``probe_interval_s`` while its circuit is
        open; the first ready answer closes it, so a restarted replica is back as soon as
        it is ready rather than after the rest of ``breaker_reset_s``."""
        breaker = self.replicas[service].breaker(base)
        while breaker.state(self.clock()) is not State.CLOSED:
            await self.sleep(self.probe_interval_s)
            if await self.probe_ready(base):
                breaker.recovered(self.clock())

    async def check_replicas(self) -> None:
        """One round of the readiness watch: each replica of a service that has several is
        asked; one that is not ready stops getting requests until its probe finds it ready.

        Only while another replica answered ready: when none did (every probe slow on a
        loaded host, or the last live replica late once), tripping them all would turn a
        hiccup into a 503 for the whole service, so the breakers judge by real requests."""
        for service, replicas in self.replicas.items():
            bases = replicas.bases
            if len(bases) < 2:
                continue  # the only replica: its failures open its circuit already
            answers = await asyncio.gather(*(self.probe_ready(base) for base in bases))
            if not any(answers):
                continue
            for base, ready in zip(bases, answers, strict=True):
                if not ready:
                    replicas.breaker(base).trip(self.clock())
                    self._watch_until_ready(service, base)

    async def resolve_replicas(self) -> None:
        """Each configured base whose host is a name becomes one replica per address it
        resolves to."""
        loop = asyncio.get_running_loop()
        for service, configured in self.configured.items():
            resolved: list[str] = []
            for base in configured:
                host = URL(base).host or ""
                try:
                    infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
                except OSError:
                    continue  # keep what was known: a DNS hiccup must not drop replicas
                addresses = dict.fromkeys(str(info[4][0]) for info in infos)
                resolved.extend(with_address(base, address) for address in addresses)
            self.replicas[service].replace(list(dict.fromkeys(resolved)))

    async def watch(self) -> None:
        """Background: resolve names every ``resolve_interval_s`` (when set) and check the
        replicas' readiness every ``check_interval_s`` (when set)."""
        last_resolved = -math.inf
        interval = min(i for i in (self.check_interval_s, self.resolve_interval_s, 60) if i > 0)
        while True:
            if (
                self.resolve_interval_s > 0
                and self.clock() - last_resolved >= self.resolve_interval_s
            ):
                await self.resolve_replicas()
                last_resolved = self.clock()
            if self.check_interval_s > 0:
                await self.check_replicas()
            await self.sleep(interval)

    async def probe_ready(self, base: str) -> bool:
        """Whether a replica answers its readiness probe with 200 (not counted by the
        breaker: a probe is not a client's request)."""
        timeout_s = max(self.probe_interval_s, 0.5)
        url = base + READINESS_PATH
        try:
            async with asyncio.timeout(timeout_s):
                reply = await self._engine().send("GET", url, [], None, timeout_s)
                await reply.aclose()
        except (TimeoutError, ConnectFailed, TransportFailed, RuntimeError):
            return False  # RuntimeError: the engine is closed (shutting down)
        return reply.status == 200

    def start_watch(self) -> None:
        if self.check_interval_s > 0 or self.resolve_interval_s > 0:
            self._watch = asyncio.create_task(self.watch())

    async def stop(self) -> None:
        tasks = [*self._probes.values(), *([self._watch] if self._watch else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._watch = None
