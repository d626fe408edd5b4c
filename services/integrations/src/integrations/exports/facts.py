"""The platform's events the export reads, as plain facts (only the fields it reads are
modelled; contracts/schemas has the rest). A malformed event raises: the consumer retries
it, then dead-letters it for a look."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from integrations.exports.domain import (
    Balance,
    Level,
    MemberFact,
    MembershipFact,
    Profile,
    Wallet,
)

MEMBER_UPSERTED = "quanzi.onboarding.member.upserted.v1"
LEVEL_CHANGED = "quanzi.rewards.level.changed.v1"
TENANT_CREATED = "quanzi.gateway.tenant.created.v1"
TENANT_UPDATED = "quanzi.gateway.tenant.updated.v1"
MEMBERSHIP = "quanzi.onboarding.membership."
POINTS = "quanzi.rewards.points."
# Ledger entries: each carries the wallet's balances after it.
LEDGER = tuple(
    POINTS + kind + ".v1" for kind in ("credited", "released", "debited", "expired", "reversed")
)


def moment(value: Any) -> datetime:
    at = datetime.fromisoformat(str(value))
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _maybe(value: Any) -> datetime | None:
    return None if value is None else moment(value)


def profile(data: dict[str, Any]) -> MemberFact:
    tags = data.get("tags")
    return Profile(
        at=moment(data["upserted_at"]),
        display_name=data.get("display_name"),
        tags=tuple(str(tag) for tag in tags) if isinstance(tags, list) else None,
    )


def level(data: dict[str, Any]) -> MemberFact:
    return Level(moment(data["changed_at"]), int(data["level"]), str(data["name"]))


def wallet(data: dict[str, Any]) -> MemberFact:
    balance = data["balance"]
    amounts = Balance(
        int(balance["available"]),
        int(balance["pending"]),
        int(balance["lifetime"]),
        int(balance["debt"]),
    )
    return Wallet(moment(data["occurred_at"]), amounts)


MEMBER_FACTS: dict[str, Callable[[dict[str, Any]], MemberFact]] = {
    MEMBER_UPSERTED: profile,
    LEVEL_CHANGED: level,
    **dict.fromkeys(LEDGER, wallet),
}

Reader = Callable[[dict[str, Any]], MembershipFact]


def _fact(data: dict[str, Any], at_field: str, **parts: Any) -> MembershipFact:
    return MembershipFact(
        member_id=str(data["member_id"]),
        community_id=str(data["community_id"]),
        at=moment(data[at_field]),
        **parts,
    )


def _status(status: str, at_field: str) -> Reader:
    return lambda data: _fact(data, at_field, status=status)


def _activated(data: dict[str, Any]) -> MembershipFact:
    # A paid term's end, else a trial's, else none (an open community's membership).
    ends = data.get("term_ends_at") or data.get("trial_ends_at")
    return _fact(
        data,
        "activated_at",
        status="active",
        tier=str(data["tier"]),
        activated=True,
        sets_term=True,
        expires_at=_maybe(ends),
    )


def _renewed(data: dict[str, Any]) -> MembershipFact:
    return _fact(
        data, "renewed_at", status="active", sets_term=True, expires_at=moment(data["term_ends_at"])
    )


def _reinstated(data: dict[str, Any]) -> MembershipFact:
    return _fact(data, "reinstated_at", status=str(data["status"]))


def _tier_changed(data: dict[str, Any]) -> MembershipFact:
    return _fact(data, "changed_at", tier=str(data["to_tier"]))


MEMBERSHIP_FACTS: dict[str, Reader] = {
    MEMBERSHIP + "activated.v1": _activated,
    MEMBERSHIP + "renewed.v1": _renewed,
    MEMBERSHIP + "reinstated.v1": _reinstated,
    MEMBERSHIP + "tier_changed.v1": _tier_changed,
    MEMBERSHIP + "left.v1": _status("left", "left_at"),
    MEMBERSHIP + "removed.v1": _status("removed", "removed_at"),
    MEMBERSHIP + "refunded.v1": _status("refunded", "refunded_at"),
    MEMBERSHIP + "expired.v1": _status("expired", "expired_at"),
    MEMBERSHIP + "banned.v1": _status("banned", "banned_at"),
}


def tenant_zone(data: dict[str, Any], time: datetime) -> tuple[str | None, datetime]:
    """``(zone named, when)`` of a tenant event; created has no time of its own (the
    event's), and an event published before zones existed names none."""
    named = data.get("timezone")
    at = moment(data["updated_at"]) if "updated_at" in data else time
    return (named if isinstance(named, str) else None), at
