"""Wiring of the insights service: its API, event consumers and timers on servicekit's
runtime. It calls no other service: every figure comes from the events."""

from __future__ import annotations

from fastapi import FastAPI

from insights import events
from insights.access import clock_of
from insights.channels import api as channels_api
from insights.cohorts import api as cohorts_api
from insights.communities import api as communities_api
from insights.communities import handlers as communities_handlers
from insights.figures import api as figures_api
from insights.figures import events as facts
from insights.figures import handlers as figures_handlers
from insights.settings import Settings
from insights.silence import api as silence_api
from insights.silence import service as silence_service
from servicekit.app import ConsumerSpec, ServiceSpec, create_service_app
from servicekit.consumer import Batched

_FACTS = Batched(figures_handlers.on_facts)

# Every fact in one consumer group: membership events (figures, channels, presence),
# community roles, engagement (posts, comments, shares, check-ins, quizzes) and points.
# One group, so one transaction at a time per replica moves a member's presence and timer
# (two groups deadlocked on them on PostgreSQL, each holding what the other wanted next).
FACTS = ConsumerSpec(
    name="facts",
    topics=["onboarding.memberships", "content.posts", "activities.campaigns", "rewards.points"],
    handlers={
        **dict.fromkeys(
            (
                *facts.MEMBERSHIP_TYPES,
                *facts.CONTENT_TYPES,
                *facts.ACTIVITY_TYPES,
                *facts.POINTS_TYPES,
            ),
            _FACTS,
        ),
        communities_handlers.ROLE_GRANTED: Batched(communities_handlers.on_roles),
        communities_handlers.ROLE_REVOKED: Batched(communities_handlers.on_roles),
    },
)

# Communities' names and zones: whose midnights start each one's days.
COMMUNITIES = ConsumerSpec(
    name="communities",
    topics=["onboarding.communities"],
    handlers={
        communities_handlers.COMMUNITY_CREATED: communities_handlers.on_community,
        communities_handlers.COMMUNITY_UPDATED: communities_handlers.on_community,
    },
)

TIMERS = {silence_service.SILENCE_TIMER: silence_service.silence_due}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        ServiceSpec(
            settings=settings,
            title="Quanzi insights",
            description=(
                "Community health, retention cohorts, conversion by channel, "
                "silent members and reactivation, from every service's events."
            ),
            routers=[
                figures_api.router,
                cohorts_api.router,
                channels_api.router,
                silence_api.router,
                communities_api.router,
            ],
            produces=events.TOPICS,
            consumers=[FACTS, COMMUNITIES],
            timers=TIMERS,
            clock=clock_of(settings.clock_offset_file),
        )
    )
