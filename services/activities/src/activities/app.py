"""Wiring of the activities service: its API, event handlers and timers on servicekit's runtime."""

from fastapi import FastAPI

from activities.settings import Settings
from servicekit.app import ServiceSpec, create_service_app


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        ServiceSpec(
            settings=settings or Settings(),
            title="Quanzi activities",
            description=(
                "Campaigns that keep members active: "
                "check-ins, quizzes, draws, polls, meetups, referrals."
            ),
        )
    )
