"""The insights service's events (contracts/topics/insights.members.yaml), keyed by the
member each is about."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from servicekit.events import Event, new_event

SOURCE = "/insights"
MEMBERS = "insights.members"
TOPICS = (MEMBERS,)

WENT_SILENT = "quanzi.insights.member.went_silent.v1"
REACTIVATED = "quanzi.insights.member.reactivated.v1"


def went_silent(
    tenant_id: str,
    community_id: str,
    member_id: str,
    *,
    last_engaged_at: datetime,
    silent_since: datetime,
    silent_after_days: int,
    held_out: bool,
) -> Event:
    """``held_out``: the member is in the hold-out arm; outreach must leave them alone."""
    data = {
        "tenant_id": tenant_id,
        "community_id": community_id,
        "member_id": member_id,
        "last_engaged_at": last_engaged_at.isoformat(),
        "silent_since": silent_since.isoformat(),
        "silent_after_days": silent_after_days,
        "held_out": held_out,
    }
    event = new_event(
        type=WENT_SILENT,
        source=SOURCE,
        tenant_id=tenant_id,
        topic=MEMBERS,
        data=data,
        key=member_id,
        subject=community_id,
    )
    return replace(event, time=silent_since)


def reactivated(
    tenant_id: str,
    community_id: str,
    member_id: str,
    *,
    silent_since: datetime,
    reactivated_at: datetime,
    held_out: bool,
) -> Event:
    data = {
        "tenant_id": tenant_id,
        "community_id": community_id,
        "member_id": member_id,
        "silent_since": silent_since.isoformat(),
        "reactivated_at": reactivated_at.isoformat(),
        "held_out": held_out,
    }
    event = new_event(
        type=REACTIVATED,
        source=SOURCE,
        tenant_id=tenant_id,
        topic=MEMBERS,
        data=data,
        key=member_id,
        subject=community_id,
    )
    return replace(event, time=reactivated_at)
