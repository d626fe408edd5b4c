"""Wiring of the content service: its API, event handlers and timers on servicekit's runtime."""

from __future__ import annotations

from fastapi import FastAPI

from content import events
from content.audience import events as audience_events
from content.audience import handlers as audience
from content.digest import api as digest_api
from content.digest import handlers as digest
from content.digest.service import TIMER as DIGEST_TIMER
from content.engagement import api as engagement_api
from content.knowledge import api as knowledge_api
from content.moderation import api as moderation_api
from content.posts import api as posts_api
from content.reading import api as reading_api
from content.recurring import api as recurring_api
from content.recurring import handlers as recurring
from content.recurring.service import TIMER as RECURRING_TIMER
from content.review import api as review_api
from content.schedules import api as schedules_api
from content.schedules import handlers as schedules
from content.schedules.service import TIMER as SCHEDULE_TIMER
from content.sequences import api as sequences_api
from content.sequences import handlers as sequences
from content.sequences.service import STEP_TIMER, fire_step
from content.settings import Settings
from content.top import api as top_api
from servicekit.app import ConsumerSpec, ServiceSpec, create_service_app
from servicekit.consumer import Batched

# The audience projection: who may see and who may speak, from onboarding's and rewards'
# events only (no call back at read time).
AUDIENCE = ConsumerSpec(
    name="audience",
    topics=["onboarding.memberships", "onboarding.communities", "rewards.points"],
    handlers={
        # Batched: a run of membership events (a bulk import's activations) in two statements.
        **{kind: Batched(audience.on_memberships) for kind in audience_events.MEMBERSHIP_FACTS},
        audience_events.ROLE_GRANTED: audience.on_role_granted,
        audience_events.ROLE_REVOKED: audience.on_role_revoked,
        audience_events.COMMUNITY_CREATED: audience.on_community_created,
        audience_events.COMMUNITY_UPDATED: audience.on_community_updated,
        audience_events.GROUP_CREATED: audience.on_group_created,
        audience_events.LEVEL_CHANGED: Batched(audience.on_levels_changed),
    },
)

# Newcomer and reactivation sequences: their own group, so a slow projection never holds
# a welcome back; insights' silences and returns start and stop reactivation runs.
SEQUENCES = ConsumerSpec(
    name="sequences",
    topics=["onboarding.memberships", "insights.members"],
    handlers=sequences.HANDLERS,
)


# Time-driven work: due rows claimed once across replicas (servicekit.timers).
TIMERS = {
    SCHEDULE_TIMER: schedules.publish_due,
    RECURRING_TIMER: recurring.publish_due,
    DIGEST_TIMER: digest.publish_due,
    STEP_TIMER: fire_step,
}


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        ServiceSpec(
            settings=settings or Settings(),
            title="Quanzi content",
            description=(
                "Posts, review, schedules, newcomer sequences, "
                "feeds, engagement and the knowledge base."
            ),
            routers=[
                posts_api.router,
                reading_api.router,
                review_api.router,
                engagement_api.router,
                schedules_api.router,
                recurring_api.router,
                digest_api.router,
                knowledge_api.router,
                sequences_api.router,
                top_api.router,
                moderation_api.router,
            ],
            produces=events.TOPICS,
            consumers=[AUDIENCE, SEQUENCES],
            timers=TIMERS,
        )
    )
