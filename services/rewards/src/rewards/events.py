"""The rewards service's events (contracts/topics/rewards.*.yaml), all keyed by member."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from rewards.badges.domain import BadgeRule
from rewards.budgets.domain import DropNews
from rewards.levels.domain import LevelProgress
from rewards.mall.domain import RedemptionStatus
from rewards.mall.repository import RedemptionRow
from rewards.meetups.domain import Payment
from rewards.points.domain import Entry, EntryKind, Lot
from rewards.points.repository import Balances
from rewards.rules.domain import lookup
from servicekit.events import Event, new_event

SOURCE = "/rewards"
POINTS = "rewards.points"
REDEMPTIONS = "rewards.redemptions"
TOPICS = (POINTS, REDEMPTIONS)

CREDITED = "quanzi.rewards.points.credited.v1"
RELEASED = "quanzi.rewards.points.released.v1"
DEBITED = "quanzi.rewards.points.debited.v1"
EXPIRED = "quanzi.rewards.points.expired.v1"
REVERSED = "quanzi.rewards.points.reversed.v1"
LEVEL_CHANGED = "quanzi.rewards.level.changed.v1"
REDEMPTION_EVENTS = {
    RedemptionStatus.REQUESTED: "quanzi.rewards.redemption.requested.v1",
    RedemptionStatus.FULFILLED: "quanzi.rewards.redemption.fulfilled.v1",
    RedemptionStatus.CANCELLED: "quanzi.rewards.redemption.cancelled.v1",
}


def _type_of(entry: Entry) -> str:
    if entry.kind is EntryKind.ADJUST:
        return CREDITED if entry.points > 0 else DEBITED
    return {
        EntryKind.EARN: CREDITED,
        EntryKind.RELEASE: RELEASED,
        EntryKind.SPEND: DEBITED,
        EntryKind.SETTLE: DEBITED,
        EntryKind.EXPIRE: EXPIRED,
        EntryKind.REVERSE: REVERSED,
        EntryKind.RESTORE: CREDITED,
    }[entry.kind]


def _event(
    event_type: str, tenant_id: str, member_id: str, data: dict[str, Any], topic: str = POINTS
) -> Event:
    return new_event(
        type=event_type,
        source=SOURCE,
        tenant_id=tenant_id,
        topic=topic,
        data={"tenant_id": tenant_id, "member_id": member_id, **data},
        key=member_id,
        subject=member_id,
    )


def entry_event(tenant_id: str, member_id: str, entry: Entry, after: Balances) -> Event:
    """One event per entry, carrying the wallet's balances after the whole change."""
    data = {
        "entry_key": entry.key,
        "kind": entry.kind.value,
        "points": entry.points,
        "available_delta": entry.available_delta,
        "pending_delta": entry.pending_delta,
        "lifetime_delta": entry.lifetime_delta,
        "debt_delta": entry.debt_delta,
        "community_id": entry.community_id,
        "rule_id": entry.rule_id,
        "rule_version": entry.rule_version,
        "cause": entry.cause,
        "reason": entry.reason,
        "occurred_at": entry.at.isoformat(),
        "balance": {
            "available": after.available,
            "pending": after.pending,
            "lifetime": after.lifetime,
            "debt": after.debt,
            "level": after.level,
        },
    }
    if entry.kind is EntryKind.REVERSE:  # what it undoes, for a history that explains it
        data["reverses_entry_id"] = entry.reverses_entry_id
        data["reverses_entry_key"] = entry.reverses_entry_key
    return _event(_type_of(entry), tenant_id, member_id, data)


def level_changed(
    tenant_id: str, member_id: str, previous: int, now: LevelProgress, lifetime: int, at: str
) -> Event:
    data = {
        "previous_level": previous,
        "level": now.level,
        "name": now.name,
        "direction": "up" if now.level > previous else "down",
        "lifetime": lifetime,
        "changed_at": at,
    }
    return _event(LEVEL_CHANGED, tenant_id, member_id, data)


def redemption(row: RedemptionRow) -> Event:
    """The redemption as it now stands; its status says which of the three events it is."""
    data = {
        "redemption_id": row.id,
        "item_id": row.item_id,
        "item_name": row.item_name,
        "item_kind": row.item_kind.value,
        "points": row.points,
        "community_id": row.community_id,
        "status": row.status.value,
        "note": row.note,
        "reference": row.reference,
        "reason": row.cancel_reason,
        "by": row.closed_by,
        "occurred_at": (row.closed_at or row.created_at).isoformat(),
    }
    return _event(REDEMPTION_EVENTS[row.status], row.tenant_id, row.member_id, data, REDEMPTIONS)


BADGE_AWARDED = "quanzi.rewards.badge.awarded.v1"


def badge_awarded(
    tenant_id: str,
    member_id: str,
    rule: BadgeRule,
    times: int,
    at: datetime,
    trigger: Event | None,
) -> Event:
    """A badge (and its title, if the rule gives one) awarded; ``times`` counts the awards
    of a repeatable badge. ``trigger`` is the event that completed it (None: a level)."""
    community = lookup(trigger.data, "community_id") if trigger else None
    data = {
        "badge_id": rule.rule_id,
        "name": rule.name,
        "description": rule.description,
        "title": rule.title,
        "criterion": rule.criterion.value,
        "threshold": rule.threshold,
        "days": rule.days,
        "repeatable": rule.repeatable,
        "times": times,
        "community_id": community if isinstance(community, str) else None,
        "event_id": trigger.id if trigger else None,
        "event_type": trigger.type if trigger else None,
        "awarded_at": at.isoformat(),
    }
    return _event(BADGE_AWARDED, tenant_id, member_id, data)


WILL_EXPIRE = "quanzi.rewards.points.will_expire.v1"


def will_expire(
    tenant_id: str, member_id: str, day: date, lots: Sequence[Lot], at: datetime
) -> Event:
    """Points of a member that expire on one local day (the tenant's), announced ahead (each
    lot once)."""
    data = {
        "points": sum(lot.remaining for lot in lots),
        "expires_on": day.isoformat(),
        "expires_at": min(lot.expires_at for lot in lots if lot.expires_at).isoformat(),
        "lots": [
            {
                "lot_id": lot.id,
                "points": lot.remaining,
                "expires_at": lot.expires_at.isoformat() if lot.expires_at else None,
                "community_id": lot.community_id,
            }
            for lot in lots
        ],
        "announced_at": at.isoformat(),
    }
    return _event(WILL_EXPIRE, tenant_id, member_id, data)


BUDGET_DROP_REFUSED = "quanzi.rewards.budget.drop_refused.v1"


def drop_refused(tenant_id: str, news: DropNews, available: int) -> Event:
    """The operator's budget could not cover a drop's total: none of its claims is paid.
    Keyed by the drop (it is about no one member)."""
    data = {
        "tenant_id": tenant_id,
        "drop_id": news.drop_id,
        "community_id": news.community_id,
        "total_points": news.total,
        "available": available,
        "refused_at": news.at.isoformat(),
    }
    return new_event(
        type=BUDGET_DROP_REFUSED,
        source=SOURCE,
        tenant_id=tenant_id,
        topic=POINTS,
        data=data,
        key=news.drop_id,
        subject=news.drop_id,
    )


MEETUP_PAYMENT_REFUSED = "quanzi.rewards.meetup_payment.refused.v1"


def meetup_payment_refused(tenant_id: str, payment: Payment, available: int) -> Event:
    """A confirmed seat's cost was more than the member's available points: nothing was
    debited; activities frees the seat. Keyed by the member, as their points' events."""
    data = {
        "meetup_id": payment.meetup_id,
        "registration_id": payment.registration_id,
        "community_id": payment.community_id,
        "cost_points": payment.cost,
        "available": available,
        "refused_at": payment.charged_at.isoformat(),
    }
    return _event(MEETUP_PAYMENT_REFUSED, tenant_id, payment.member_id, data)
