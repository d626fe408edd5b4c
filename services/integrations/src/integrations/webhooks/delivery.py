"""Sending webhooks: the timers' handlers and the dispatcher that makes the HTTP requests.

The attempt timer only claims a message (a short transaction); the request is made after
that transaction commits, outside any transaction, so a slow receiver never holds the
database. Requests in flight are bounded per endpoint (one slow endpoint fills only its own
slots, never another tenant's) and in all. Each request: the address checked again (SSRF,
after resolving the name; the connection goes to the checked address, so a name cannot
resolve differently in between), no redirects followed, a total time limit, and at most
``webhooks_response_limit_bytes`` of the answer read.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from integrations.settings import Settings
from integrations.webhooks import attempts, domain, endpoints
from servicekit.db import transaction
from servicekit.timers import Timer
from servicekit.types import utcnow

log = logging.getLogger(__name__)

_AFTER_COMMIT = "integrations.webhooks.dispatch"
RESOLVE_TIMEOUT_S = 5.0
RECORD_BATCH = 200  # outcomes written in one transaction


async def resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to ([] when it does not)."""
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT_S
        )
    except (OSError, TimeoutError, UnicodeError):
        return []
    seen: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in seen:
            seen.append(address)
    return seen


class Dispatcher:
    """Sends claimed attempts; one per process (its service's engine)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        clock: Callable[[], datetime] = utcnow,
        resolver: endpoints.Resolver = resolve,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.policy = endpoints.Policy.of(settings)
        self.clock = clock
        self.resolver = resolver
        self._all = asyncio.Semaphore(settings.webhooks_concurrency)
        self._per_endpoint: dict[str, asyncio.Semaphore] = {}
        self._last_start: dict[str, float] = {}  # rate-limited endpoints: loop time
        self._pacing: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._outcomes: asyncio.Queue[tuple[attempts.Job, attempts.Outcome, Any]] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            trust_env=False,  # never through a proxy from the environment
            timeout=httpx.Timeout(settings.webhooks_timeout_s),
            limits=httpx.Limits(max_connections=settings.webhooks_concurrency),
            headers={"user-agent": "Quanzi-Webhooks/1"},
        )

    def submit(self, job: attempts.Job) -> None:
        task = asyncio.get_running_loop().create_task(self.send(job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def idle(self) -> None:
        """Wait until every submitted attempt is recorded (tests, the benchmark)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        for task in [*self._tasks, *([self._writer] if self._writer else [])]:
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)
        await self._client.aclose()

    async def send(self, job: attempts.Job) -> None:
        try:
            slots = self._per_endpoint.setdefault(
                job.endpoint_id, asyncio.Semaphore(self.settings.webhooks_endpoint_concurrency)
            )
            async with slots:
                await self._space(job)
                async with self._all:
                    outcome = await self.post(job)
            recorded = asyncio.get_running_loop().create_future()
            await self._outcomes.put((job, outcome, recorded))
            if self._writer is None or self._writer.done():
                self._writer = asyncio.get_running_loop().create_task(self._write())
            await recorded
        except Exception:
            # The lease timer records the attempt as interrupted and retries it.
            log.exception("webhook delivery %s attempt %s failed", job.delivery_id, job.attempt)

    async def _space(self, job: attempts.Job) -> None:
        """Wait for the attempt's slot and, per endpoint with a rate limit, ``1/rate``
        after this process's previous start to it (the actual one: a late wake-up never
        brings the next one closer). Starts to one endpoint are taken one at a time; only
        that endpoint's tasks wait, never another's."""
        if not job.rate_limit_per_s:
            return
        loop = asyncio.get_running_loop()
        async with self._pacing.setdefault(job.endpoint_id, asyncio.Lock()):
            ahead = (job.not_before - self.clock()).total_seconds() if job.not_before else 0.0
            start = domain.next_start(
                self._last_start.get(job.endpoint_id),
                loop.time() + max(ahead, 0.0),
                job.rate_limit_per_s,
            )
            await asyncio.sleep(max(start - loop.time(), 0.0))
            self._last_start[job.endpoint_id] = loop.time()

    async def _write(self) -> None:
        """Outcomes recorded many to a transaction (one writer): a delivery costs a fraction
        of a commit, which is what bounds the rate on SQLite."""
        while True:
            batch = [await self._outcomes.get()]
            while len(batch) < RECORD_BATCH and not self._outcomes.empty():
                batch.append(self._outcomes.get_nowait())
            try:
                await self._record(batch)
            except Exception:
                log.warning("recording %d outcomes failed; one by one", len(batch), exc_info=True)
                for item in batch:
                    try:
                        await self._record([item])
                    except Exception as error:
                        if not item[2].done():
                            item[2].set_exception(error)
            for _, _, recorded in batch:
                if not recorded.done():
                    recorded.set_result(None)

    async def _record(self, batch: list[tuple[attempts.Job, attempts.Outcome, Any]]) -> None:
        async with transaction(self.sessions) as session:
            outcomes = [(job.delivery_id, job.attempt, outcome) for job, outcome, _ in batch]
            await attempts.record_many(session, outcomes, self.clock(), self.policy)

    async def post(self, job: attempts.Job) -> attempts.Outcome:
        started = time.monotonic()

        def took() -> int:
            return int((time.monotonic() - started) * 1000)

        try:
            request = await self._request(job)
        except _Refused as refused:
            return attempts.Outcome(error=str(refused), latency_ms=took())
        limit = self.settings.webhooks_response_limit_bytes
        try:
            async with asyncio.timeout(self.settings.webhooks_timeout_s):
                response = await self._client.send(request, stream=True)
                try:
                    raw = await _read_up_to(response, limit)
                finally:
                    await response.aclose()
        except TimeoutError:
            return attempts.Outcome(error="timeout", latency_ms=took())
        except httpx.HTTPError as error:
            return attempts.Outcome(error=f"{type(error).__name__}: {error}", latency_ms=took())
        excerpt = raw[: self.settings.webhooks_excerpt_bytes].decode("utf-8", errors="replace")
        return attempts.Outcome(
            status_code=response.status_code,
            latency_ms=took(),
            excerpt=excerpt.replace("\x00", ""),
            retry_after=domain.parse_retry_after(response.headers.get("retry-after"), self.clock()),
        )

    async def _request(self, job: attempts.Job) -> httpx.Request:
        try:
            target = domain.target(job.url, allow_http=self.policy.allow_http)
        except domain.InvalidEndpoint as error:
            raise _Refused(f"refused: {error}") from None
        url = httpx.URL(job.url)
        extensions: dict[str, Any] = {}
        host_header = url.netloc.decode("ascii")
        if not self.policy.allow_private:
            reason = domain.refused_host(target.host)
            address = target.host if target.literal else None
            if reason is None and not target.literal:
                address, reason = domain.first_allowed(
                    await self.resolver(target.host, target.port)
                )
                if address is None and reason is None:
                    raise _Refused(f"refused: {target.host} does not resolve")
            if reason is not None:
                raise _Refused(f"refused: a {reason.value} address")
            # Connect to the address just checked; the name still goes in Host and in TLS
            # (SNI and the certificate check).
            assert address is not None
            url = url.copy_with(host=address)
            if target.scheme == "https":
                extensions["sni_hostname"] = target.host
        # The signature's timestamp is the wall clock's: receivers compare it with theirs.
        headers = domain.headers(job.message_id, utcnow(), job.body, job.secrets)
        headers["host"] = host_header
        return self._client.build_request(
            "POST", url, content=job.body.encode(), headers=headers, extensions=extensions
        )


class _Refused(Exception):
    pass


async def _read_up_to(response: httpx.Response, limit: int) -> bytes:
    """At most ``limit`` bytes of the body; the rest is never read."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_raw():
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(chunks)[:limit]


# --- the dispatcher of a process, found from a timer's session -----------------------------

_dispatchers: dict[int, Dispatcher] = {}


def register(engine: AsyncEngine, dispatcher: Dispatcher) -> None:
    _dispatchers[id(engine.sync_engine)] = dispatcher


def unregister(engine: AsyncEngine) -> None:
    _dispatchers.pop(id(engine.sync_engine), None)


def running(session: AsyncSession) -> Dispatcher | None:
    """The dispatcher of the process the session's engine belongs to, if it runs yet."""
    engine = session.get_bind()
    return _dispatchers.get(id(getattr(engine, "engine", engine)))


def _dispatcher_of(session: AsyncSession) -> Dispatcher:
    found = running(session)
    if found is None:
        raise RuntimeError("no webhook dispatcher runs in this process yet")
    return found


def send_after_commit(
    session: AsyncSession, dispatcher: Dispatcher, jobs: list[attempts.Job]
) -> None:
    """Hand claimed attempts to the dispatcher once the session's transaction commits."""
    claimed = session.sync_session.info.setdefault(_AFTER_COMMIT, [])
    claimed.extend((dispatcher, job) for job in jobs)


@sa_event.listens_for(Session, "after_commit")
def _dispatch_claimed(session: Session) -> None:
    # SQLAlchemy also calls this when a savepoint is released (the timer's handler runs in
    # one): only the outer commit makes the claim visible to the dispatcher's reads.
    if session.get_nested_transaction() is not None:
        return
    for dispatcher, job in session.info.pop(_AFTER_COMMIT, ()):
        dispatcher.submit(job)


@sa_event.listens_for(Session, "after_rollback")
def _forget_claimed(session: Session) -> None:
    session.info.pop(_AFTER_COMMIT, None)


async def on_attempt(session: AsyncSession, timer: Timer) -> None:
    """Attempt timer: claim the message; it is sent once the claim has committed."""
    dispatcher = _dispatcher_of(session)
    delivery_id = int(timer.payload["delivery_id"])
    job = await attempts.claim(session, delivery_id, dispatcher.clock(), dispatcher.policy)
    if job is not None:
        send_after_commit(session, dispatcher, [job])


async def on_slot(session: AsyncSession, timer: Timer) -> None:
    """Slot timer: the attempt's slot has come (reserved already): claim it as above."""
    dispatcher = _dispatcher_of(session)
    delivery_id = int(timer.payload["delivery_id"])
    slot = datetime.fromisoformat(str(timer.payload["slot"]))
    job = await attempts.claim(session, delivery_id, dispatcher.clock(), dispatcher.policy, slot)
    if job is not None:
        send_after_commit(session, dispatcher, [job])


async def on_lease(session: AsyncSession, timer: Timer) -> None:
    dispatcher = _dispatcher_of(session)
    await attempts.lease_expired(session, timer.payload, dispatcher.clock(), dispatcher.policy)


TIMERS = {
    attempts.ATTEMPT_TIMER: on_attempt,
    attempts.SLOT_TIMER: on_slot,
    attempts.LEASE_TIMER: on_lease,
}
