"""Wiring of the rewards service: its API, event handlers and timers on servicekit's runtime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from rewards import events, service
from rewards.api import admin as admin_api
from rewards.api import badges as badge_api
from rewards.api import leaderboards, mall, points
from rewards.domain.rules import MEMBERSHIP_ACTIVATED, MEMBERSHIP_REFUNDED
from rewards.ledger import EXPIRE_TIMER, NOTICE_TIMER, RELEASE_TIMER
from rewards.settings import Settings
from servicekit.app import ConsumerSpec, ServiceSpec, create_service_app
from servicekit.consumer import Batched

MEMBERSHIPS = ConsumerSpec(
    name="memberships",
    topics=["onboarding.memberships"],
    handlers={
        # Table-driven: the tenant's earning rules for the type decide what is credited.
        # Batched: a poll's activations in a few statements (bench/ledger.py).
        MEMBERSHIP_ACTIVATED: Batched(service.apply_rules_many),
        MEMBERSHIP_REFUNDED: service.on_membership_refunded,
    },
)

TIMERS = {
    RELEASE_TIMER: service.release_due,
    EXPIRE_TIMER: service.expire_due,
    NOTICE_TIMER: service.announce_due,
}


def create_app(settings: Settings | None = None) -> FastAPI:
    app = create_service_app(
        ServiceSpec(
            settings=settings or Settings(),
            title="Quanzi rewards",
            description=(
                "Points ledger, earning rules, levels, badges, leaderboards and the points mall."
            ),
            routers=[
                points.router,
                mall.router,
                leaderboards.router,
                badge_api.router,
                admin_api.router,
            ],
            produces=events.TOPICS,
            consumers=[MEMBERSHIPS],
            timers=TIMERS,
        )
    )
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with inner(app):
            app.state.rewards = service.Rewards(app.state.sessions)
            yield

    app.router.lifespan_context = lifespan
    return app
