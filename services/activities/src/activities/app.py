"""Wiring of the activities service: its API, event handlers and timers on servicekit's runtime."""

from __future__ import annotations

from fastapi import FastAPI

from activities import events
from activities.access import clock_of
from activities.challenges import api as challenges_api
from activities.contests import api as contests_api
from activities.contests import service as contests_service
from activities.draws import api as draws_api
from activities.draws import service as draws_service
from activities.drops import api as drops_api
from activities.drops import handlers as drops_handlers
from activities.drops import service as drops_service
from activities.meetups import api as meetups_api
from activities.meetups import handlers as meetups_handlers
from activities.meetups import service as meetups_service
from activities.members import events as members_events
from activities.members import handlers as members
from activities.polls import api as polls_api
from activities.polls import service as polls_service
from activities.quizzes import api as quizzes_api
from activities.referrals import api as referrals_api
from activities.referrals import handlers as referrals
from activities.referrals import service as referrals_service
from activities.reviews import api as reviews_api
from activities.settings import Settings
from activities.talks import api as talks_api
from activities.talks import service as talks_service
from servicekit.app import ConsumerSpec, ServiceSpec, create_service_app
from servicekit.consumer import Batched

# The membership projection: who may take part, and each community's zone, from
# onboarding's events only (no call back at request time).
MEMBERS = ConsumerSpec(
    name="members",
    topics=["onboarding.memberships", "onboarding.communities"],
    handlers={
        # Batched: a run of membership events (a bulk import's activations) in two statements.
        **{kind: Batched(members.on_memberships) for kind in members_events.MEMBERSHIP_FACTS},
        members_events.COMMUNITY_CREATED: members.on_community,
        members_events.COMMUNITY_UPDATED: members.on_community,
    },
)

# Referral campaigns: invited joins (source.inviter_id) and their refunds.
REFERRALS = ConsumerSpec(
    name="referrals",
    topics=["onboarding.memberships"],
    handlers={
        referrals.ACTIVATED: referrals.on_activated,
        referrals.REFUNDED: referrals.on_refunded,
    },
)

# Members' levels (rewards' level.changed), for draws limited to a level and above;
# point drops the operator's budget could not cover, closed at once; and meetup seats
# whose cost the member's points could not cover, freed for the waitlist.
LEVELS = ConsumerSpec(
    name="levels",
    topics=["rewards.points"],
    handlers={
        members_events.LEVEL_CHANGED: Batched(members.on_levels),
        drops_handlers.DROP_REFUSED: drops_handlers.on_refused,
        meetups_handlers.PAYMENT_REFUSED: meetups_handlers.on_payment_refused,
    },
)


TIMERS = {
    polls_service.CLOSE_TIMER: polls_service.close_due,
    draws_service.DRAW_TIMER: draws_service.draw_due,
    drops_service.EXPIRE_TIMER: drops_service.expire_due,
    meetups_service.DRAW_TIMER: meetups_service.draw_due,
    meetups_service.OFFER_TIMER: meetups_service.lapse_due,
    meetups_service.END_TIMER: meetups_service.end_due,
    referrals_service.SETTLE_TIMER: referrals_service.settle_due,
    contests_service.END_TIMER: contests_service.end_due,
    talks_service.REMINDER_TIMER: talks_service.remind_due,
}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        ServiceSpec(
            settings=settings,
            title="Quanzi activities",
            description=(
                "Campaigns that keep members active: "
                "check-ins, quizzes, draws, polls, meetups, referrals, contests."
            ),
            routers=[
                challenges_api.router,
                quizzes_api.router,
                polls_api.router,
                draws_api.router,
                drops_api.router,
                meetups_api.router,
                referrals_api.router,
                talks_api.router,
                contests_api.router,
                reviews_api.router,
            ],
            produces=events.TOPICS,
            consumers=[MEMBERS, LEVELS, REFERRALS],
            timers=TIMERS,
            clock=clock_of(settings.clock_offset_file),
        )
    )
