"""Request and response bodies of the rewards API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from rewards.domain.rules import MAX_POINTS
from rewards.service import Summary

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
ExternalId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class Level(BaseModel):
    level: int
    name: str
    floor: int
    next_level_at: int | None
    points_to_next: int | None
    percent: int


class SummaryOut(BaseModel):
    member_id: str
    available: int
    pending: int
    lifetime: int
    debt: int
    level: Level

    @classmethod
    def of(cls, summary: Summary) -> SummaryOut:
        progress = summary.level
        return cls(
            member_id=summary.member_id,
            available=summary.available,
            pending=summary.pending,
            lifetime=summary.lifetime,
            debt=summary.debt,
            level=Level(
                level=progress.level,
                name=progress.name,
                floor=progress.floor,
                next_level_at=progress.next_level_at,
                points_to_next=progress.points_to_next,
                percent=progress.percent,
            ),
        )


class EntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: str
    points: int
    available_delta: int
    pending_delta: int
    lifetime_delta: int
    debt_delta: int
    community_id: str | None
    rule_id: str | None
    rule_version: int | None
    reason: str | None
    created_at: datetime


class EntryPage(BaseModel):
    items: list[EntryOut]
    next_cursor: str | None


class AdjustmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    member_id: ExternalId
    points: Annotated[int, Field(ge=-MAX_POINTS, le=MAX_POINTS, description="Non-zero")]
    reason: Reason
    community_id: ExternalId | None = None
