"""The integrations service's events (contracts/topics/integrations.endpoints.yaml) and the
platform topics it turns into webhooks and the feed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from servicekit.events import Event, new_event

SOURCE = "/integrations"
ENDPOINTS = "integrations.endpoints"
CONTACTS = "integrations.contacts"
TOPICS = (ENDPOINTS, CONTACTS)

ENDPOINT_DISABLED = "quanzi.integrations.endpoint.disabled.v1"
CONTACTS_RECEIVED = "quanzi.integrations.contacts.received.v1"

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


def contacts_received(
    tenant_id: str,
    batch_id: str,
    part: int,
    parts: int,
    contacts: list[dict[str, Any]],
    at: datetime,
) -> Event:
    """Contacts a tenant's CRM pushed, already mapped to member directory rows; keyed by
    the tenant, so that its batches are applied in the order they were received (a later
    batch's change to a contact is applied after an earlier one's)."""
    return new_event(
        type=CONTACTS_RECEIVED,
        source=SOURCE,
        tenant_id=tenant_id,
        topic=CONTACTS,
        key=tenant_id,
        subject=batch_id,
        data={
            "tenant_id": tenant_id,
            "batch_id": batch_id,
            "part": part,
            "parts": parts,
            "received_at": at.isoformat(),
            "contacts": contacts,
        },
    )
