"""The onboarding service's events (contracts/topics/onboarding.*.yaml)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from onboarding.membership.domain import TIER_TRIAL
from onboarding.orm import (
    Appeal,
    Application,
    Community,
    CommunityRole,
    CommunityRules,
    Group,
    InviteCode,
    Membership,
    Report,
    Sanction,
)
from servicekit.events import Event, new_event

SOURCE = "/onboarding"
MEMBERS = "onboarding.members"
COMMUNITIES = "onboarding.communities"
MEMBERSHIPS = "onboarding.memberships"
MODERATION = "onboarding.moderation"
TOPICS = (MEMBERS, COMMUNITIES, MEMBERSHIPS, MODERATION)

MEMBER_IDENTIFIED = "quanzi.gateway.member.identified.v1"
LEVEL_CHANGED = "quanzi.rewards.level.changed.v1"
CONTENT_FLAGGED = "quanzi.content.item.flagged.v1"
CONTACTS_RECEIVED = "quanzi.integrations.contacts.received.v1"


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
    tags: list[str] | None = None,
) -> Event:
    data = {
        "member_id": external_id,
        "display_name": display_name,
        "profile": profile,
        "tags": tags or [],
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
        "timezone": community.timezone,
        "created_at": community.created_at.isoformat(),
    }
    return _event(COMMUNITIES, "community.created", community.tenant_id, community.id, data)


def community_updated(community: Community, changes: list[str], at: datetime) -> Event:
    data = {
        "community_id": community.id,
        "changes": changes,
        "slug": community.slug,
        "name": community.name,
        "visibility": community.visibility,
        "application_required": community.application_form is not None,
        "min_level": community.min_level,
        "timezone": community.timezone,
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
        **_requirements(group),
        "created_at": group.created_at.isoformat(),
    }
    return _event(COMMUNITIES, "group.created", group.tenant_id, group.community_id, data)


def _requirements(group: Group) -> dict[str, Any]:
    return {
        "min_tier": group.min_tier,
        "min_level": group.min_level,
        "city": group.city,
        "tags": list(group.tags or []),
    }


def group_updated(group: Group, changes: list[str], at: datetime) -> Event:
    data = {
        "community_id": group.community_id,
        "group_id": group.id,
        "changes": changes,
        "name": group.name,
        "capacity": group.capacity,
        **_requirements(group),
        "updated_at": at.isoformat(),
    }
    return _event(COMMUNITIES, "group.updated", group.tenant_id, group.community_id, data)


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


def membership_activated(membership: Membership, previous_tier: str | None = None) -> Event:
    """``previous_tier``: the tier an activation of a seated member replaced (a trial member
    paid); None for an arrival. A trial's activation names when the trial ends."""
    assert membership.activated_at is not None
    trial = membership.tier == TIER_TRIAL
    data = {
        **_membership(membership),
        "group_id": membership.group_id,
        "waiting_for_seat": membership.seat_waiting_since is not None,
        "mentor_id": membership.mentor_id,
        "tier": membership.tier,
        "activated_at": membership.activated_at.isoformat(),
        "term_ends_at": _iso(membership.term_ends_at),
        "refund_window_ends_at": _iso(membership.refund_window_ends_at),
        "trial_ends_at": _iso(membership.term_ends_at) if trial else None,
        "previous_tier": previous_tier,
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


def membership_tier_changed(
    membership: Membership,
    *,
    from_tier: str,
    from_group_id: str | None,
    reason: str,
    at: datetime,
) -> Event:
    """The member moved up: trial → core tier (a payment) and/or a trial group → a core group."""
    data = {
        **_membership(membership),
        "from_tier": from_tier,
        "to_tier": membership.tier,
        "from_group_id": from_group_id,
        "to_group_id": membership.group_id,
        "reason": reason,
        "changed_at": at.isoformat(),
    }
    return _event(
        MEMBERSHIPS, "membership.tier_changed", membership.tenant_id, membership.member_id, data
    )


def membership_group_changed(
    membership: Membership,
    *,
    from_group_id: str | None,
    reason: str,
    actor_id: str | None,
    at: datetime,
    forced: bool = False,
) -> Event:
    """The member sits in another group, same tier: moved, switched, or seated after waiting."""
    data = {
        **_membership(membership),
        "from_group_id": from_group_id,
        "to_group_id": membership.group_id,
        "reason": reason,
        "actor_id": actor_id,
        "forced": forced,
        "changed_at": at.isoformat(),
    }
    return _event(
        MEMBERSHIPS, "membership.group_changed", membership.tenant_id, membership.member_id, data
    )


def membership_renewal_due(membership: Membership, days_left: int, at: datetime) -> Event:
    assert membership.term_ends_at is not None
    data = {
        **_membership(membership),
        "tier": membership.tier,
        "days_left": days_left,
        "term_ends_at": membership.term_ends_at.isoformat(),
        "due_at": at.isoformat(),
    }
    return _event(
        MEMBERSHIPS, "membership.renewal_due", membership.tenant_id, membership.member_id, data
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
    data = {**_membership(membership), "tier": membership.tier, "left_at": at.isoformat()}
    return _event(MEMBERSHIPS, "membership.left", membership.tenant_id, membership.member_id, data)


def _grant(grant: CommunityRole) -> dict[str, Any]:
    return {
        "grant_id": grant.id,
        "community_id": grant.community_id,
        "member_id": grant.member_id,
        "role": grant.role,
        "group_id": grant.group_id,
        "title": grant.title,
    }


def role_granted(grant: CommunityRole) -> Event:
    """A community role or title (role ``title`` with its text) was granted."""
    data = {
        **_grant(grant),
        "granted_by": grant.granted_by,
        "reason": grant.reason,
        "granted_at": grant.granted_at.isoformat(),
    }
    return _event(MEMBERSHIPS, "role.granted", grant.tenant_id, grant.member_id, data)


def role_revoked(grant: CommunityRole, *, seat_lost: bool) -> Event:
    """Revoked by someone, or ended with the member's seat (``seat_lost``, by "system")."""
    assert grant.revoked_at is not None and grant.revoked_by is not None
    data = {
        **_grant(grant),
        "revoked_by": grant.revoked_by,
        "reason": grant.revoke_reason,
        "seat_lost": seat_lost,
        "revoked_at": grant.revoked_at.isoformat(),
    }
    return _event(MEMBERSHIPS, "role.revoked", grant.tenant_id, grant.member_id, data)


def member_welcomed(
    membership: Membership,
    community: Community,
    *,
    display_name: str | None,
    group_name: str | None,
    mentor_name: str | None,
    text: str,
    at: datetime,
) -> Event:
    """Everything content needs to greet the newcomer (新人报道) without asking back."""
    data = {
        **_membership(membership),
        "display_name": display_name,
        "community_name": community.name,
        "group_id": membership.group_id,
        "group_name": group_name,
        "mentor_id": membership.mentor_id,
        "mentor_name": mentor_name,
        "tier": membership.tier,
        "text": text,
        "source": _source(membership),
        "welcomed_at": at.isoformat(),
    }
    return _event(MEMBERSHIPS, "member.welcomed", membership.tenant_id, membership.member_id, data)


# ---------------------------------------------------------------- rules and moderation


def rules_published(rules: CommunityRules) -> Event:
    data = {
        "community_id": rules.community_id,
        "rules_id": rules.id,
        "version": rules.version,
        "text": rules.text,
        "summary": rules.summary,
        "grace_days": rules.grace_days,
        "grace_ends_at": rules.grace_ends_at.isoformat(),
        "published_by": rules.published_by,
        "published_at": rules.created_at.isoformat(),
    }
    return _event(COMMUNITIES, "rules.published", rules.tenant_id, rules.community_id, data)


def rules_accepted(
    tenant_id: str, community_id: str, member_id: str, version: int, at: datetime
) -> Event:
    data = {
        "member_id": member_id,
        "community_id": community_id,
        "version": version,
        "accepted_at": at.isoformat(),
    }
    return _event(MEMBERSHIPS, "rules.accepted", tenant_id, member_id, data)


def membership_muted(membership: Membership, cause: str, at: datetime) -> Event:
    """cause: ``sanction`` (a mute sanction) or ``rules`` (rules not accepted in time)."""
    data = {
        **_membership(membership),
        "cause": cause,
        "muted_until": _iso(membership.muted_until),
        "rules_muted": membership.rules_muted,
        "muted_at": at.isoformat(),
    }
    return _event(MEMBERSHIPS, "membership.muted", membership.tenant_id, membership.member_id, data)


def membership_unmuted(membership: Membership, cause: str, at: datetime) -> Event:
    data = {
        **_membership(membership),
        "status": membership.status,
        "cause": cause,
        "unmuted_at": at.isoformat(),
    }
    return _event(
        MEMBERSHIPS, "membership.unmuted", membership.tenant_id, membership.member_id, data
    )


def membership_removed(membership: Membership, sanction: Sanction, at: datetime) -> Event:
    data = {
        **_membership(membership),
        "tier": membership.tier,
        "sanction_id": sanction.id,
        "reason": sanction.reason,
        "removed_at": at.isoformat(),
    }
    return _event(
        MEMBERSHIPS, "membership.removed", membership.tenant_id, membership.member_id, data
    )


def membership_banned(membership: Membership, sanction: Sanction, at: datetime) -> Event:
    data = {
        **_membership(membership),
        "tier": membership.tier,
        "sanction_id": sanction.id,
        "tenant_wide": sanction.tenant_wide,
        "reason": sanction.reason,
        "banned_at": at.isoformat(),
    }
    return _event(
        MEMBERSHIPS, "membership.banned", membership.tenant_id, membership.member_id, data
    )


def membership_reinstated(
    membership: Membership, from_status: str, sanction: Sanction, at: datetime
) -> Event:
    """A removal or ban undone: overturned on appeal, or a ban lifted (→ left)."""
    data = {
        **_membership(membership),
        "status": membership.status,
        "from_status": from_status,
        "group_id": membership.group_id,
        "sanction_id": sanction.id,
        "cause": sanction.status,
        "reinstated_at": at.isoformat(),
    }
    return _event(
        MEMBERSHIPS, "membership.reinstated", membership.tenant_id, membership.member_id, data
    )


def _sanction(sanction: Sanction) -> dict[str, Any]:
    return {
        "sanction_id": sanction.id,
        "membership_id": sanction.membership_id,
        "member_id": sanction.member_id,
        "community_id": sanction.community_id,
        "kind": sanction.kind,
        "tenant_wide": sanction.tenant_wide,
    }


def sanction_issued(sanction: Sanction) -> Event:
    data = {
        **_sanction(sanction),
        "step": sanction.step,
        "ends_at": _iso(sanction.ends_at),
        "report_id": sanction.report_id,
        "reason": sanction.reason,
        "issued_by": sanction.issued_by,
        "issued_at": sanction.created_at.isoformat(),
    }
    return _event(MODERATION, "sanction.issued", sanction.tenant_id, sanction.member_id, data)


def sanction_lifted(sanction: Sanction) -> Event:
    """cause: expired (a mute ran out), lifted (ended early), overturned (on appeal)."""
    assert sanction.ended_at is not None
    data = {
        **_sanction(sanction),
        "cause": sanction.status,
        "lifted_by": sanction.ended_by,
        "reason": sanction.end_reason,
        "lifted_at": sanction.ended_at.isoformat(),
    }
    return _event(MODERATION, "sanction.lifted", sanction.tenant_id, sanction.member_id, data)


def report_filed(report: Report) -> Event:
    # The reporter's free text stays out (personal data); moderators read it in the queue.
    data = {
        "report_id": report.id,
        "community_id": report.community_id,
        "member_id": report.reporter_id,
        "target_kind": report.target_kind,
        "target_id": report.target_id,
        "category": report.category,
        "filed_at": report.created_at.isoformat(),
    }
    return _event(MODERATION, "report.filed", report.tenant_id, report.reporter_id, data)


def appeal_decided(appeal: Appeal) -> Event:
    assert appeal.decided_at is not None
    data = {
        "appeal_id": appeal.id,
        "sanction_id": appeal.sanction_id,
        "member_id": appeal.member_id,
        "community_id": appeal.community_id,
        "outcome": appeal.status,
        "decided_by": appeal.decided_by,
        "reason": appeal.reason,
        "decided_at": appeal.decided_at.isoformat(),
    }
    return _event(MODERATION, "appeal.decided", appeal.tenant_id, appeal.member_id, data)
