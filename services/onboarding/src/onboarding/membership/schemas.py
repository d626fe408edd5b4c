"""Response bodies of memberships: every way in answers with a MembershipOut."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import (
    BaseModel,
)


class Source(BaseModel):
    kind: str
    code: str | None
    channel: str | None
    inviter_id: str | None


class MembershipOut(BaseModel):
    id: str
    community_id: str
    member_id: str
    status: str
    tier: str
    group_id: str | None
    # Set while the member is seated but no group had room for them: they get the next seat.
    seat_waiting_since: datetime | None
    mentor_id: str | None  # assigned in turn among the community's mentors on arrival
    source: Source
    activated_at: datetime | None
    term_ends_at: datetime | None
    refund_window_ends_at: datetime | None
    created_at: datetime
    status_changed_at: datetime

    @classmethod
    def of(cls, row: Any) -> MembershipOut:
        source = Source(
            kind=row.source_kind,
            code=row.source_code,
            channel=row.source_channel,
            inviter_id=row.inviter_id,
        )
        fields = {name: getattr(row, name) for name in cls.model_fields if name != "source"}
        return cls(source=source, **fields)


class ProfileOut(BaseModel):
    member_id: str
    display_name: str | None
    profile: dict[str, Any]
    tags: list[str]
