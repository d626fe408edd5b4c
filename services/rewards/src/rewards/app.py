"""Wiring of the rewards service: its API, event handlers and timers on servicekit's runtime."""

from fastapi import FastAPI

from rewards.settings import Settings
from servicekit.app import ServiceSpec, create_service_app


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        ServiceSpec(
            settings=settings or Settings(),
            title="Quanzi rewards",
            description=(
                "Points ledger, earning rules, levels, badges, leaderboards and the points mall."
            ),
        )
    )
