"""Wiring of the rewards service: its API, event handlers and timers on servicekit's runtime."""

from __future__ import annotations

from fastapi import FastAPI

from rewards import events
from rewards.badges import api as badges_api
from rewards.budgets import api as budgets_api
from rewards.budgets import handlers as budgets_handlers
from rewards.leaderboards import api as leaderboards_api
from rewards.levels import api as levels_api
from rewards.mall import api as mall_api
from rewards.meetups import handlers as meetups_handlers
from rewards.notices import api as notices_api
from rewards.notices import handlers as notices_handlers
from rewards.points import api as points_api
from rewards.points import handlers as points_handlers
from rewards.points.ledger import EXPIRE_TIMER, NOTICE_TIMER, RELEASE_TIMER
from rewards.reports import api as reports_api
from rewards.rules import api as rules_api
from rewards.rules import handlers as rules_handlers
from rewards.rules.sources import (
    ACTIVITY_EVENTS,
    CONTENT_CREDITS,
    CONTENT_WITHDRAWALS,
    MEMBERSHIP_ACTIVATED,
    MEMBERSHIP_ENDED,
    MEMBERSHIP_REFUNDED,
    REFERRAL_REVOKED,
)
from rewards.settings import Settings
from rewards.zones import handlers as zones_handlers
from servicekit.app import ConsumerSpec, ServiceSpec, create_service_app
from servicekit.consumer import Batched

MEMBERSHIPS = ConsumerSpec(
    name="memberships",
    topics=["onboarding.memberships"],
    handlers={
        # Table-driven: the tenant's earning rules for the type decide what is credited.
        # Batched: a poll's activations in a few statements (bench/ledger.py).
        MEMBERSHIP_ACTIVATED: Batched(rules_handlers.apply_rules_many),
        # Refunds, and trials that ended unpaid, take back the membership's points.
        MEMBERSHIP_REFUNDED: points_handlers.on_membership_ended,
        **{ended: points_handlers.on_membership_ended for ended in MEMBERSHIP_ENDED},
    },
)

# What members did in activities' campaigns (check-ins, challenges, quizzes, contests'
# awards, referral tiers): the tenant's earning rules for each type decide what is
# credited, badges count them; a referral tier revoked takes its points back; meetup
# seats are paid and refunded.
ACTIVITIES = ConsumerSpec(
    name="activities",
    topics=["activities.campaigns"],
    handlers={
        **{kind: Batched(rules_handlers.apply_rules_many) for kind in ACTIVITY_EVENTS},
        REFERRAL_REVOKED: points_handlers.on_referral_revoked,
        # A point drop's total is reserved from the operator's budget, its claimed
        # shares paid from that reservation, what its expiry returns released.
        **{kind: budgets_handlers.on_drop for kind in budgets_handlers.DROP_EVENTS},
        # A confirmed seat of a meetup that costs points is charged (a spend; refused,
        # for activities to free the seat, when the balance is short); a cancelled one
        # gets its charge back (a restore, not an earning).
        meetups_handlers.MEETUP_CONFIRMED: meetups_handlers.on_confirmed,
        meetups_handlers.MEETUP_CANCELLED: meetups_handlers.on_cancelled,
    },
)

# Content's approvals, shares and recommendations credit by the tenant's rules; a
# rejection after approval reverses what the post or comment earned.
CONTENT = ConsumerSpec(
    name="content",
    topics=["content.posts"],
    handlers={
        **{kind: Batched(rules_handlers.apply_rules_many) for kind in CONTENT_CREDITS},
        **{kind: points_handlers.on_content_withdrawn for kind in CONTENT_WITHDRAWALS},
    },
)

# The zones of tenants and communities: whose midnight starts each one's days. A new
# group reads the topics from their earliest retained event.
ZONES = ConsumerSpec(
    name="zones",
    topics=["gateway.tenants", "onboarding.communities"],
    handlers={
        zones_handlers.TENANT_CREATED: zones_handlers.on_tenant,
        zones_handlers.TENANT_UPDATED: zones_handlers.on_tenant,
        zones_handlers.COMMUNITY_CREATED: zones_handlers.on_community,
        zones_handlers.COMMUNITY_UPDATED: zones_handlers.on_community,
    },
)

TIMERS = {
    RELEASE_TIMER: points_handlers.release_due,
    EXPIRE_TIMER: points_handlers.expire_due,
    NOTICE_TIMER: notices_handlers.announce_due,
}


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        ServiceSpec(
            settings=settings or Settings(),
            title="Quanzi rewards",
            description=(
                "Points ledger, earning rules, levels, badges, leaderboards and the points mall."
            ),
            routers=[
                points_api.router,
                mall_api.router,
                leaderboards_api.router,
                badges_api.router,
                rules_api.router,
                levels_api.router,
                notices_api.router,
                reports_api.router,
                budgets_api.router,
            ],
            produces=events.TOPICS,
            consumers=[MEMBERSHIPS, ACTIVITIES, CONTENT, ZONES],
            timers=TIMERS,
        )
    )
