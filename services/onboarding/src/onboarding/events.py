"""The onboarding service's events (contracts/topics/onboarding.*.yaml)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from onboarding.orm import Application, Community, Group, InviteCode, Membership
from servicekit.events import Event, new_event

SOURCE = "/onboarding"
MEMBERS = "onboarding.members"
COMMUNITIES = "onboarding.communities"
MEMBERSHIPS = "onboarding.memberships"
TOPICS = (MEMBERS, COMMUNITIES, MEMBERSHIPS)

MEMBER_IDENTIFIED = "quanzi.gateway.member.identified.v1"
LEVEL_CHANGED = "quanzi.rewards.level.changed.v1"


def _event(topic: str, what: str, tenant_id: str, key: str, data: dict[str, Any]) -> Event:
    return new_event(
        type=f"quanzi.onboarding.{what}.v1",
        source=SOURCE,
        tenant_id=tenant_id,
        topic=topic,
        data={"tenant_id": tenant_id, **data},
        key=key,
    )


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def member_upserted(
    tenant_id: str,
    external_id: str,
    display_name: str | None,
    profile: dict[str, Any],
    *,
    created: bool,
    at: datetime,
) -> Event:
    data = {
        "member_id": external_id,
        "display_name": display_name,
        "profile": profile,
        "created": created,
        "upserted_at": at.isoformat(),
    }
    return _event(MEMBERS, "member.upserted", tenant_id, external_id, data)


def community_created(community: Community) -> Event:
    data = {
        "community_id": community.id,
        "slug": community.slug,
        "name": community.name,
        "visibility": community.visibility,
        "join_policy": community.join_policy,
        "created_at": community.created_at.isoformat(),
    }
    return _event(COMMUNITIES, "community.created", community.tenant_id, community.id, data)


def community_updated(community: Community, changes: list[str], at: datetime) -> Event:
    data = {
        "community_id": community.id,
        "changes": changes,
        "application_required": community.application_form is not None,
        "min_level": community.min_level,
        "updated_at": at.isoformat(),
    }
    return _event(COMMUNITIES, "community.updated", community.tenant_id, community.id, data)


def group_created(group: Group) -> Event:
    data = {
        "community_id": group.community_id,
        "group_id": group.id,
        "name": group.name,
        "kind": group.kind,
        "capacity": group.capacity,
        "routing_code_id": group.routing_code_id,
        "created_at": group.created_at.isoformat(),
    }
    return _event(COMMUNITIES, "group.created", group.tenant_id, group.community_id, data)


def group_full(
    tenant_id: str, community_id: str, group_id: str, capacity: int, at: datetime
) -> Event:
    data = {
        "community_id": community_id,
        "group_id": group_id,
        "capacity": capacity,
        "full_at": at.isoformat(),
    }
    return _event(COMMUNITIES, "group.full", tenant_id, community_id, data)


def _membership(membership: Membership) -> dict[str, Any]:
    return {
        "membership_id": membership.id,
        "member_id": membership.member_id,
        "community_id": membership.community_id,
    }


def _source(membership: Membership) -> dict[str, Any]:
    return {
        "kind": membership.source_kind,
        "code": membership.source_code,
        "channel": membership.source_channel,
        "inviter_id": membership.inviter_id,
    }


def application_submitted(application: Application, membership: Membership) -> Event:
    # The answers stay out of the event: they are personal data, and a log kept for weeks
    # on a topic is the wrong place for them. Consumers that need them ask the API.
    data = {
        **_membership(membership),
        "application_id": application.id,
        "submitted_at": application.created_at.isoformat(),
        "source": _source(membership),
    }
    return _event(
        MEMBERSHIPS, "application.submitted", membership.tenant_id, membership.member_id, data
    )


def application_decided(application: Application, membership: Membership) -> Event:
    """application.approved or application.rejected, after the decision was recorded."""
    assert application.decided_at is not None
    what = "approved" if application.status == "approved" else "rejected"
    data = {
        **_membership(membership),
        "application_id": application.id,
        "auto": application.auto,
        "decided_by": application.decided_by,
        "reason": application.reason,
        "decided_at": application.decided_at.isoformat(),
    }
    return _event(
        MEMBERSHIPS, f"application.{what}", membership.tenant_id, membership.member_id, data
    )


def invite_redeemed(invite: InviteCode, membership: Membership, at: datetime) -> Event:
    data = {
        **_membership(membership),
        "invite_id": invite.id,
        "code": invite.code,
        "channel": invite.channel,
        "inviter_id": invite.inviter_id,
        "uses": invite.uses,
        "max_uses": invite.max_uses,
        "redeemed_at": at.isoformat(),
    }
    return _event(MEMBERSHIPS, "invite.redeemed", membership.tenant_id, membership.member_id, data)


def membership_activated(membership: Membership) -> Event:
    assert membership.activated_at is not None
    data = {
        **_membership(membership),
        "group_id": membership.group_id,
        "tier": membership.tier,
        "activated_at": membership.activated_at.isoformat(),
        "term_ends_at": _iso(membership.term_ends_at),
        "refund_window_ends_at": _iso(membership.refund_window_ends_at),
        "source": _source(membership),
    }
    return _event(
        MEMBERSHIPS, "membership.activated", membership.tenant_id, membership.member_id, data
    )


def membership_renewed(membership: Membership, payment_id: str, at: datetime) -> Event:
    data = {
        **_membership(membership),
        "payment_id": payment_id,
        "renewed_at": at.isoformat(),
        "term_ends_at": _iso(membership.term_ends_at),
        "refund_window_ends_at": _iso(membership.refund_window_ends_at),
    }
    return _event(
        MEMBERSHIPS, "membership.renewed", membership.tenant_id, membership.member_id, data
    )


def membership_refunded(membership: Membership, reason: str | None, at: datetime) -> Event:
    data = {**_membership(membership), "refunded_at": at.isoformat(), "reason": reason}
    return _event(
        MEMBERSHIPS, "membership.refunded", membership.tenant_id, membership.member_id, data
    )


def membership_expired(membership: Membership, tier: str, at: datetime) -> Event:
    data = {**_membership(membership), "tier": tier, "expired_at": at.isoformat()}
    return _event(
        MEMBERSHIPS, "membership.expired", membership.tenant_id, membership.member_id, data
    )


def membership_left(membership: Membership, at: datetime) -> Event:
    data = {**_membership(membership), "left_at": at.isoformat()}
    return _event(MEMBERSHIPS, "membership.left", membership.tenant_id, membership.member_id, data)
