"""Wiring of the onboarding service: its API, event handlers and timers on servicekit's runtime."""

from fastapi import FastAPI

from onboarding import events
from onboarding.api import communities, memberships
from onboarding.handlers import on_member_identified
from onboarding.service import EXPIRY_TIMER, expire_membership
from onboarding.settings import Settings
from servicekit.app import ConsumerSpec, ServiceSpec, create_service_app

ROUTERS = (communities.router, memberships.router, memberships.me)


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        ServiceSpec(
            settings=settings or Settings(),
            title="Quanzi onboarding",
            description=(
                "Who may join which community, on what "
                "terms: communities, groups, join policies, memberships, moderation."
            ),
            routers=ROUTERS,
            produces=events.TOPICS,
            consumers=[
                ConsumerSpec(
                    name="members",
                    topics=["gateway.members"],
                    handlers={events.MEMBER_IDENTIFIED: on_member_identified},
                )
            ],
            timers={EXPIRY_TIMER: expire_membership},
        )
    )
