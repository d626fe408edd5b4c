"""The service app factory: FastAPI wiring plus the runtime (relay, consumers, timers).

A service describes itself with a ``ServiceSpec``; ``create_service_app`` does the rest.
The broker may be down when a service starts: HTTP and the outbox keep working,
the Kafka side retries in the background, and ``/readyz`` tells the truth.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from servicekit import auth, heap, kafka
from servicekit.consumer import Batched, ConsumerRunner, Handler
from servicekit.contracts import ContractError, Registry, find_contracts_dir
from servicekit.db import create_engine, session_factory
from servicekit.observability import (
    BodySizeLimitMiddleware,
    RequestContextMiddleware,
    configure_logging,
    json_ready,
    metrics_endpoint,
)
from servicekit.outbox import OutboxRelay
from servicekit.problems import document_problems, install_problem_handlers
from servicekit.settings import ServiceSettings
from servicekit.text import ControlCharacterMiddleware, document_text_rules
from servicekit.timers import TimerHandler, TimerRunner
from servicekit.types import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConsumerSpec:
    """One consumer group of the service: ``<service>.<name>`` over ``topics``."""

    name: str
    topics: Sequence[str]
    handlers: Mapping[str, Handler | Batched]


@dataclass(frozen=True)
class ServiceSpec:
    settings: ServiceSettings
    title: str
    description: str = ""
    version: str = "0.1.0"
    routers: Sequence[APIRouter] = ()
    produces: Sequence[str] = ()  # contract topics this service publishes to
    consumers: Sequence[ConsumerSpec] = ()
    timers: Mapping[str, TimerHandler] = field(default_factory=dict)
    # What "now" is for the timers: the wall clock, or a development test clock (a service
    # whose journeys move its days moves its timers with them).
    clock: Callable[[], datetime] = utcnow


class Runtime:
    """Everything a service runs beside its HTTP handlers, started and stopped as one."""

    def __init__(self, spec: ServiceSpec, engine: AsyncEngine) -> None:
        self.spec = spec
        self.settings = spec.settings
        self.engine = engine
        self.sessions: async_sessionmaker[AsyncSession] = session_factory(engine)
        self.kafka_config = kafka.KafkaConfig(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            enable_idempotence=self.settings.kafka_enable_idempotence,
            fetch_max_wait_ms=self.settings.kafka_fetch_max_wait_ms,
            idle_fetch_max_wait_ms=self.settings.kafka_idle_fetch_max_wait_ms,
            busy_fetch_max_wait_ms=self.settings.kafka_busy_fetch_max_wait_ms,
            client_id=self.settings.service_name,
            replication_factor=self.settings.kafka_replication_factor,
        )
        self.producer: AIOKafkaProducer | None = None
        self.kafka_ready = asyncio.Event()
        self._stoppables: list[OutboxRelay | ConsumerRunner | TimerRunner] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._starter: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        if self.spec.timers and self.settings.timers_enabled:
            runner = TimerRunner(
                self.sessions,
                self.spec.timers,
                poll_interval_s=self.settings.timer_poll_interval_s,
                clock=self.spec.clock,
            )
            self._launch("timers", runner, runner.run)
        self._starter = asyncio.create_task(self._start_kafka_side(), name="kafka-start")

    async def _start_kafka_side(self) -> None:
        """Connect, provision topics, then start the relay and consumers; retries forever."""
        backoff = 0.5
        while True:
            try:
                await self._connect_and_provision()
                break
            except Exception as error:
                log.warning("broker not reachable (%s); retrying in %.1fs", error, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 15.0)
        assert self.producer is not None
        if self.settings.relay_enabled:
            relay = OutboxRelay(
                self.sessions,
                self.producer,
                service=self.settings.service_name,
                batch_size=self.settings.relay_batch_size,
                poll_interval_s=self.settings.relay_poll_interval_s,
                retention=timedelta(hours=self.settings.relay_retention_hours),
                watch_broker=self.settings.broker_watch_enabled,
                on_new_broker=self._provision_topics,
            )
            self._launch("relay", relay, relay.run)
        if self.settings.consumers_enabled:
            for spec in self.spec.consumers:
                self._launch_consumer(spec)
        self.kafka_ready.set()

    async def _connect_and_provision(self) -> None:
        if self.producer is None:
            producer = kafka.producer(self.kafka_config)
            try:
                await producer.start()
            except BaseException:  # also on cancellation: never leak a half-started client
                with suppress(Exception):
                    await producer.stop()
                raise
            self.producer = producer
        await self._provision_topics()

    async def _provision_topics(self) -> None:
        """Create the topics this service produces and consumes (at start, and on a broker
        that came back empty)."""
        if self.settings.kafka_provision_topics:
            topics = set(self.spec.produces)
            for consumer in self.spec.consumers:
                topics.update(consumer.topics)
            if topics:
                registry = Registry.load(_contracts_path(self.settings))
                specs = kafka.contract_topics(
                    registry, topics, replication_factor=self.kafka_config.replication_factor
                )
                await kafka.ensure_topics(self.kafka_config, specs)

    def _launch_consumer(self, spec: ConsumerSpec) -> None:
        assert self.producer is not None
        runner = ConsumerRunner(
            group_id=f"{self.settings.service_name}.{spec.name}",
            topics=spec.topics,
            handlers=spec.handlers,
            sessions=self.sessions,
            kafka=self.kafka_config,
            dlq_producer=self.producer,
            batch_size=self.settings.consumer_batch_size,
            max_attempts=self.settings.consumer_max_attempts,
            retry_backoff_s=self.settings.consumer_retry_backoff_s,
            watch_broker=self.settings.broker_watch_enabled,
            inbox_retention=timedelta(hours=self.settings.inbox_retention_hours),
        )
        self._launch(f"consumer:{spec.name}", runner, runner.run)

    def _launch(
        self,
        name: str,
        stoppable: OutboxRelay | ConsumerRunner | TimerRunner,
        run: Callable[[], Awaitable[None]],
    ) -> None:
        self._stoppables.append(stoppable)
        task = asyncio.create_task(_supervise(name, run, lambda: self._stopping), name=name)
        self._tasks.append(task)

    async def stop(self, timeout_s: float | None = None) -> None:
        """Stop gracefully: each loop finishes the batch in hand (the relay its publish and
        mark, a consumer its transaction and then its offset commit, the timers their claim)
        and returns; whatever still runs after ``timeout_s`` (default
        ``shutdown_runtime_timeout_s``) is cancelled, which loses nothing either: an
        uncommitted batch is redone after a restart (outbox rows stay unsent, offsets
        uncommitted, timers unfired)."""
        timeout = self.settings.shutdown_runtime_timeout_s if timeout_s is None else timeout_s
        self._stopping = True
        if self._starter is not None:  # still connecting: launches nothing more
            self._starter.cancel()
            await asyncio.gather(self._starter, return_exceptions=True)
        for stoppable in self._stoppables:
            stoppable.stop()
        running = [task for task in self._tasks if not task.done()]
        if running:
            _, late = await asyncio.wait(running, timeout=timeout)
            if late:
                log.warning(
                    "cancelling %s: not finished %.1fs after the stop",
                    ", ".join(sorted(task.get_name() for task in late)),
                    timeout,
                )
            for task in late:
                task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.producer is not None:
            with suppress(Exception):
                await asyncio.wait_for(self.producer.stop(), timeout=5)

    async def readiness(self) -> tuple[int, dict[str, Any]]:
        checks: dict[str, str] = {}
        try:
            async with self.engine.connect() as connection:
                await asyncio.wait_for(connection.execute(text("SELECT 1")), timeout=2)
            checks["database"] = "ok"
        except Exception as error:
            checks["database"] = f"error: {type(error).__name__}"
        checks["broker"] = await self._broker_check()
        return json_ready(checks)

    async def _broker_check(self) -> str:
        if self.producer is None or not self.kafka_ready.is_set():
            return "connecting"
        try:
            await asyncio.wait_for(self.producer.client.fetch_all_metadata(), timeout=2)
            return "ok"
        except Exception as error:
            return f"error: {type(error).__name__}"


async def _supervise(
    name: str, run: Callable[[], Awaitable[None]], stopping: Callable[[], bool]
) -> None:
    """Keep a background loop alive: restart it with backoff if it ever raises (unless the
    runtime is stopping)."""
    backoff = 0.5
    while True:
        try:
            await run()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            if stopping():
                log.exception("%s stopped with an error while stopping", name)
                return
            log.exception("%s stopped with an error; restarting in %.1fs", name, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 30.0)


def _contracts_path(settings: ServiceSettings) -> Path:
    return Path(settings.contracts_dir) if settings.contracts_dir else find_contracts_dir()


async def app_sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    """Dependency: the service's sessions; an entry point opens its use case's transaction
    from them."""
    return request.app.state.sessions  # type: ignore[no-any-return]


Sessions = Annotated[async_sessionmaker[AsyncSession], Depends(app_sessions)]


def create_service_app(spec: ServiceSpec) -> FastAPI:
    settings = spec.settings

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.service_name, settings.log_level)
        engine = create_engine(
            settings.database_url,
            pool_size=settings.database_pool_size,
            pre_ping=settings.database_pool_pre_ping,
        )
        runtime = Runtime(spec, engine)
        app.state.runtime = runtime
        app.state.sessions = runtime.sessions
        await runtime.start()
        heap.settle(settings.gc_gen0_threshold)
        try:
            yield
        finally:
            await runtime.stop()
            await engine.dispose()

    app = FastAPI(
        title=spec.title, description=spec.description, version=spec.version, lifespan=lifespan
    )
    app.state.settings = settings
    app.state.token_verifier = auth.verifier_from_settings(settings)
    install_problem_handlers(app)
    _install_truthful_openapi(app)
    app.add_middleware(ControlCharacterMiddleware)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware, service=settings.service_name)
    app.add_api_route("/healthz", _healthz, include_in_schema=False)
    app.add_api_route("/readyz", _readyz, include_in_schema=False)
    app.add_route("/metrics", metrics_endpoint, include_in_schema=False)
    app.add_api_route(
        f"/v1/{settings.service_name}/whoami",
        _whoami,
        methods=["GET"],
        tags=[settings.service_name],
        summary="The caller as this service sees it",
    )
    for router in spec.routers:
        app.include_router(router)
    return app


def _install_truthful_openapi(app: FastAPI) -> None:
    """The document says what the shared mechanisms enforce before any route runs: every
    error a problem+json (``problems``), no control character in paths and queries
    (``text``). Built once, then cached, as FastAPI does."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_text_rules(document_problems(build()))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


async def _whoami(principal: auth.CurrentPrincipal) -> dict[str, Any]:
    """Who the verified token says the caller is (zero trust: no token, no answer)."""
    return {
        "tenant_id": principal.tenant_id,
        "subject": principal.subject,
        "roles": sorted(principal.roles),
        "token_type": principal.token_type,
    }


async def _healthz() -> dict[str, str]:
    return {"status": "alive"}


async def _readyz(request: Request) -> JSONResponse:
    runtime: Runtime = request.app.state.runtime
    status, body = await runtime.readiness()
    return JSONResponse(body, status_code=status)


__all__ = ["ConsumerSpec", "ContractError", "Runtime", "ServiceSpec", "create_service_app"]
