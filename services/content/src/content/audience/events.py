"""onboarding's membership events and rewards' level.changed, read into plain facts.

Only the fields content reads are modelled (contracts/schemas has the rest). A malformed
event raises: the consumer retries it, then dead-letters it for a look.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from content.audience.domain import MembershipFact, Mute, Placement, Status

PREFIX = "quanzi.onboarding.membership."
ACTIVATED = PREFIX + "activated.v1"
RENEWED = PREFIX + "renewed.v1"
TIER_CHANGED = PREFIX + "tier_changed.v1"
LEFT = PREFIX + "left.v1"
REMOVED = PREFIX + "removed.v1"
REFUNDED = PREFIX + "refunded.v1"
EXPIRED = PREFIX + "expired.v1"
MUTED = PREFIX + "muted.v1"
UNMUTED = PREFIX + "unmuted.v1"
BANNED = PREFIX + "banned.v1"
REINSTATED = PREFIX + "reinstated.v1"
LEVEL_CHANGED = "quanzi.rewards.level.changed.v1"
COMMUNITY_CREATED = "quanzi.onboarding.community.created.v1"
COMMUNITY_UPDATED = "quanzi.onboarding.community.updated.v1"
GROUP_CREATED = "quanzi.onboarding.group.created.v1"
ROLE_GRANTED = "quanzi.onboarding.role.granted.v1"
ROLE_REVOKED = "quanzi.onboarding.role.revoked.v1"


def moment(value: Any) -> datetime:
    at = datetime.fromisoformat(str(value))
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _optional_moment(value: Any) -> datetime | None:
    return None if value is None else moment(value)


def _fact(data: dict[str, Any], at_field: str, **parts: Any) -> MembershipFact:
    return MembershipFact(
        member_id=str(data["member_id"]),
        community_id=str(data["community_id"]),
        at=moment(data[at_field]),
        **parts,
    )


def _ended(status: Status, at_field: str) -> Callable[[dict[str, Any]], MembershipFact]:
    return lambda data: _fact(data, at_field, status=status)


def _activated(data: dict[str, Any]) -> MembershipFact:
    placement = Placement(data.get("tier"), data.get("group_id"))
    return _fact(data, "activated_at", status=Status.ACTIVE, placement=placement)


def _tier_changed(data: dict[str, Any]) -> MembershipFact:
    return _fact(
        data, "changed_at", placement=Placement(data.get("to_tier"), data.get("to_group_id"))
    )


def _muted(data: dict[str, Any]) -> MembershipFact:
    mute = Mute(_optional_moment(data.get("muted_until")), bool(data.get("rules_muted")))
    return _fact(data, "muted_at", mute=mute)


def _unmuted(data: dict[str, Any]) -> MembershipFact:
    return _fact(data, "unmuted_at", mute=Mute(None, rules=False))


MEMBERSHIP_FACTS: dict[str, Callable[[dict[str, Any]], MembershipFact]] = {
    ACTIVATED: _activated,
    RENEWED: _ended(Status.ACTIVE, "renewed_at"),
    TIER_CHANGED: _tier_changed,
    LEFT: _ended(Status.LEFT, "left_at"),
    REMOVED: _ended(Status.REMOVED, "removed_at"),
    REFUNDED: _ended(Status.REFUNDED, "refunded_at"),
    EXPIRED: _ended(Status.EXPIRED, "expired_at"),
    MUTED: _muted,
    UNMUTED: _unmuted,
    BANNED: _ended(Status.BANNED, "banned_at"),
    # Reinstated from a ban or a removal: seated again (a mute, if any, is kept apart).
    REINSTATED: _ended(Status.ACTIVE, "reinstated_at"),
}
