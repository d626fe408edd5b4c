"""Wiring of the onboarding service: its API, event handlers and timers on servicekit's runtime."""

from fastapi import APIRouter, FastAPI

from onboarding import events
from onboarding.applications import api as applications
from onboarding.audit import api as audit
from onboarding.communities import api as communities
from onboarding.directory import api as members
from onboarding.directory.handlers import on_contacts_received, on_member_identified
from onboarding.invites import api as invites
from onboarding.joins import api as joins
from onboarding.joins.seating import SEAT_TIMER, retry_seat
from onboarding.levels.handlers import on_levels_changed
from onboarding.membership import api as memberships
from onboarding.moderation import api as moderation_routes
from onboarding.moderation.handlers import on_content_flagged
from onboarding.moderation.sanctions import MUTE_END_TIMER, end_mute
from onboarding.payments import api as payments
from onboarding.payments.service import expire_membership
from onboarding.payments.timers import EXPIRY_TIMER, REMINDER_TIMER, remind_renewal
from onboarding.roles import api as role_routes
from onboarding.rules import api as rules_routes
from onboarding.rules.service import GRACE_TIMER, end_grace
from onboarding.seats import api as seats
from onboarding.settings import Settings
from servicekit.app import ConsumerSpec, ServiceSpec, create_service_app
from servicekit.consumer import Batched

ROUTERS = (
    communities.router,
    joins.router,  # the same section as communities (same prefix and tag), in the same order
    applications.router,
    invites.router,
    memberships.router,
    seats.router,
    payments.router,
    memberships.me,
    seats.me,
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
    """Every route of the service (control characters in paths and queries are refused
    before routing, by servicekit's ControlCharacterMiddleware)."""
    root = APIRouter()
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
                    name="contacts",  # a tenant's CRM, through integrations
                    topics=["integrations.contacts"],
                    handlers={events.CONTACTS_RECEIVED: Batched(on_contacts_received)},
                ),
                ConsumerSpec(
                    name="levels",
                    topics=["rewards.points"],  # only level.changed is read; the rest skipped
                    handlers={events.LEVEL_CHANGED: Batched(on_levels_changed)},
                ),
                ConsumerSpec(
                    name="strikes",  # content's auto-moderation findings
                    topics=["content.moderation"],
                    handlers={events.CONTENT_FLAGGED: on_content_flagged},
                ),
            ],
            timers={
                EXPIRY_TIMER: expire_membership,
                REMINDER_TIMER: remind_renewal,
                MUTE_END_TIMER: end_mute,
                GRACE_TIMER: end_grace,
                SEAT_TIMER: retry_seat,
            },
        )
    )
