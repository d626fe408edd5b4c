"""Wiring of the onboarding service: its API, event handlers and timers on servicekit's runtime."""

from fastapi import FastAPI

from onboarding.settings import Settings
from servicekit.app import ServiceSpec, create_service_app


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        ServiceSpec(
            settings=settings or Settings(),
            title="Quanzi onboarding",
            description=(
                "Who may join which community, on what "
                "terms: communities, groups, join policies, memberships, moderation."
            ),
        )
    )
