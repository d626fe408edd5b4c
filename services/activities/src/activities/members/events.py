"""onboarding's membership and community events, read into plain facts.

Only the fields activities reads are modelled (contracts/schemas has the rest). A malformed
event raises: the consumer retries it, then dead-letters it for a look.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from activities.members.domain import LevelFact, MembershipFact, Status

PREFIX = "quanzi.onboarding.membership."
COMMUNITY_CREATED = "quanzi.onboarding.community.created.v1"
COMMUNITY_UPDATED = "quanzi.onboarding.community.updated.v1"

Reader = Callable[[dict[str, Any]], MembershipFact]


def moment(value: Any) -> datetime:
    at = datetime.fromisoformat(str(value))
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _fact(data: dict[str, Any], at_field: str, **parts: Any) -> MembershipFact:
    return MembershipFact(
        member_id=str(data["member_id"]),
        community_id=str(data["community_id"]),
        at=moment(data[at_field]),
        **parts,
    )


def _status(status: Status, at_field: str, group_field: str | None = None) -> Reader:
    def read(data: dict[str, Any]) -> MembershipFact:
        if group_field is None:
            return _fact(data, at_field, status=status)
        return _fact(data, at_field, status=status, group_id=data.get(group_field), placed=True)

    return read


def _moved(group_field: str, tier_field: str | None = None) -> Reader:
    def read(data: dict[str, Any]) -> MembershipFact:
        tier = data.get(tier_field) if tier_field else None
        return _fact(
            data,
            "changed_at",
            group_id=data.get(group_field),
            placed=True,
            tier=str(tier) if tier else None,
        )

    return read


def _activated(data: dict[str, Any]) -> MembershipFact:
    tier = data.get("tier")
    return _fact(
        data,
        "activated_at",
        status=Status.ACTIVE,
        group_id=data.get("group_id"),
        placed=True,
        tier=str(tier) if tier else None,
    )


LEVEL_CHANGED = "quanzi.rewards.level.changed.v1"


def level_fact(data: dict[str, Any]) -> LevelFact:
    return LevelFact(str(data["member_id"]), int(data["level"]), moment(data["changed_at"]))


MEMBERSHIP_FACTS: dict[str, Reader] = {
    PREFIX + "activated.v1": _activated,
    PREFIX + "renewed.v1": _status(Status.ACTIVE, "renewed_at"),
    PREFIX + "reinstated.v1": _status(Status.ACTIVE, "reinstated_at", "group_id"),
    PREFIX + "group_changed.v1": _moved("to_group_id"),
    PREFIX + "tier_changed.v1": _moved("to_group_id", "to_tier"),
    PREFIX + "left.v1": _status(Status.ENDED, "left_at"),
    PREFIX + "removed.v1": _status(Status.ENDED, "removed_at"),
    PREFIX + "refunded.v1": _status(Status.ENDED, "refunded_at"),
    PREFIX + "expired.v1": _status(Status.ENDED, "expired_at"),
    PREFIX + "banned.v1": _status(Status.ENDED, "banned_at"),
}
