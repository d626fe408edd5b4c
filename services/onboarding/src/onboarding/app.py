"""Wiring of the onboarding service: its API, event handlers and timers on servicekit's runtime."""

from fastapi import APIRouter, Depends, FastAPI

from onboarding import events
from onboarding.api import applications, audit, communities, invites, members, memberships
from onboarding.api import moderation as moderation_routes
from onboarding.api import roles as role_routes
from onboarding.api import rules as rules_routes
from onboarding.api.deps import refuse_nul
from onboarding.handlers import on_level_changed, on_member_identified
from onboarding.moderation import MUTE_END_TIMER, end_mute
from onboarding.rules import GRACE_TIMER, end_grace
from onboarding.service import (
    EXPIRY_TIMER,
    REMINDER_TIMER,
    expire_membership,
    remind_renewal,
)
from onboarding.settings import Settings
from servicekit.app import ConsumerSpec, ServiceSpec, create_service_app

ROUTERS = (
    communities.router,
    applications.router,
    invites.router,
    memberships.router,
    memberships.me,
    applications.me,
    audit.router,
    members.router,
    role_routes.router,
    role_routes.me,
    rules_routes.router,
    rules_routes.me,
    moderation_routes.router,
    moderation_routes.me,
)


def api() -> APIRouter:
    """Every route of the service, behind the checks that apply to all of them."""
    root = APIRouter(dependencies=[Depends(refuse_nul)])
    for router in ROUTERS:
        root.include_router(router)
    return root


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        ServiceSpec(
            settings=settings or Settings(),
            title="Quanzi onboarding",
            description=(
                "Who may join which community, on what "
                "terms: communities, groups, join policies, memberships, moderation."
            ),
            routers=[api()],
            produces=events.TOPICS,
            consumers=[
                ConsumerSpec(
                    name="members",
                    topics=["gateway.members"],
                    handlers={events.MEMBER_IDENTIFIED: on_member_identified},
                ),
                ConsumerSpec(
                    name="levels",
                    topics=["rewards.points"],  # only level.changed is read; the rest skipped
                    handlers={events.LEVEL_CHANGED: on_level_changed},
                ),
            ],
            timers={
                EXPIRY_TIMER: expire_membership,
                REMINDER_TIMER: remind_renewal,
                MUTE_END_TIMER: end_mute,
                GRACE_TIMER: end_grace,
            },
        )
    )
