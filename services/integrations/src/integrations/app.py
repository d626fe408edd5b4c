"""Wiring of the integrations service: its API, consumers, timers and the webhook
dispatcher on servicekit's runtime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path

from fastapi import FastAPI

from integrations import clock as clocks
from integrations import events
from integrations.crm import api as crm_api
from integrations.exports import api as exports_api
from integrations.exports import handlers as exports
from integrations.feed import api as feed_api
from integrations.feed import handlers as feed
from integrations.settings import Settings
from integrations.webhooks import api as webhooks_api
from integrations.webhooks import delivery
from integrations.webhooks import handlers as webhooks
from servicekit.app import ConsumerSpec, ServiceSpec, create_service_app
from servicekit.consumer import Batched
from servicekit.contracts import Registry
from servicekit.types import utcnow


def exposed_types(settings: Settings) -> list[str]:
    """Every event type of the exposed topics, from the contracts registry."""
    root = Path(settings.contracts_dir) if settings.contracts_dir else None
    registry = Registry.load(root)
    return sorted(t for name in events.EXPOSED_TOPICS for t in registry.topics[name].events)


def consumers(settings: Settings) -> list[ConsumerSpec]:
    """Two groups over the same topics: the feed keeps every event, webhooks fan them out;
    each moves at its own pace (a slow fan-out never holds the feed back). A third keeps
    the export's projection (members, memberships, levels, balances, tenants' zones)."""
    types = exposed_types(settings)
    retention = timedelta(days=settings.feed_retention_days)
    record = Batched(feed.recorder(retention))
    fan_out = Batched(webhooks.on_events)
    return [
        ConsumerSpec(
            name="feed", topics=events.EXPOSED_TOPICS, handlers=dict.fromkeys(types, record)
        ),
        ConsumerSpec(
            name="webhooks", topics=events.EXPOSED_TOPICS, handlers=dict.fromkeys(types, fan_out)
        ),
        ConsumerSpec(name="exports", topics=exports.TOPICS, handlers=exports.handlers()),
    ]


TIMERS = {**delivery.TIMERS, **exports.TIMERS}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    app = create_service_app(
        ServiceSpec(
            settings=settings,
            title="Quanzi integrations",
            description=(
                "What the tenants' other systems consume and send: signed webhooks "
                "(Standard Webhooks), the pull event feed, CRM sync, the nightly members export."
            ),
            routers=[webhooks_api.router, feed_api.router, crm_api.router, exports_api.router],
            produces=events.TOPICS,
            consumers=consumers(settings),
            timers=TIMERS,
        )
    )
    service_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # servicekit's runtime first (database, relay, consumers, timers), then the
        # dispatcher that sends what the attempt timers claim.
        async with service_lifespan(app):

            def clock() -> datetime:
                test_clock = getattr(app.state, "clock", None)
                return test_clock() if test_clock is not None else utcnow()

            dispatcher = delivery.Dispatcher(app.state.sessions, settings, clock)
            engine = app.state.runtime.engine
            clocks.register(engine, clock)
            delivery.register(engine, dispatcher)
            app.state.dispatcher = dispatcher
            try:
                yield
            finally:
                delivery.unregister(engine)
                clocks.unregister(engine)
                await dispatcher.close()

    app.router.lifespan_context = lifespan
    return app
