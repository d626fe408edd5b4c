"""Wiring of the content service: its API, event handlers and timers on servicekit's runtime."""

from fastapi import FastAPI

from content.settings import Settings
from servicekit.app import ServiceSpec, create_service_app


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        ServiceSpec(
            settings=settings or Settings(),
            title="Quanzi content",
            description=(
                "Posts, review, schedules, newcomer sequences, "
                "feeds, engagement and the knowledge base."
            ),
        )
    )
