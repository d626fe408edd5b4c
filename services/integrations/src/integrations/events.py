"""The integrations service's events (contracts/topics/integrations.endpoints.yaml) and the
platform topics it turns into webhooks and the feed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from servicekit.events import Event, new_event

SOURCE = "/integrations"
ENDPOINTS = "integrations.endpoints"
TOPICS = (ENDPOINTS,)

ENDPOINT_DISABLED = "quanzi.integrations.endpoint.disabled.v1"

# What a tenant's systems may receive: the life of its members, memberships, communities,
# points, redemptions, campaigns and posts. Never the gateway's credentials or
# notifications (they carry one-time tokens), nor anything platform-internal.
EXPOSED_TOPICS = (
    "onboarding.members",
    "onboarding.memberships",
    "onboarding.communities",
    "rewards.points",
    "rewards.redemptions",
    "activities.campaigns",
    "content.posts",
)


def endpoint_disabled(endpoint: Any, failing_since: datetime, at: datetime) -> Event:
    """Keyed by the endpoint; the owner's notifier reads it."""
    return new_event(
        type=ENDPOINT_DISABLED,
        source=SOURCE,
        tenant_id=endpoint.tenant_id,
        topic=ENDPOINTS,
        key=endpoint.id,
        subject=endpoint.id,
        data={
            "tenant_id": endpoint.tenant_id,
            "endpoint_id": endpoint.id,
            "url": endpoint.url,
            "failing_since": failing_since.isoformat(),
            "disabled_at": at.isoformat(),
            "reason": "failing",
        },
    )
