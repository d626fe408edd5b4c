"""Request and response bodies of newcomer and reactivation sequences."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, Field

from content.audience.domain import Tier
from content.sequences.domain import Condition, Step, StepKind, Trigger
from content.sequences.repository import Row
from servicekit.text import Body, Line, Text


class ConditionIn(Body):
    min_level: Annotated[int | None, Field(ge=1, le=1000)] = None
    tiers: Annotated[list[Tier], Field(max_length=2, default_factory=list)]


class StepIn(Body):
    delay_s: Annotated[int, Field(ge=0, le=90 * 86400)] = Field(
        description="Seconds after the previous step (the first: after the trigger)"
    )
    kind: StepKind
    title: Annotated[Line | None, Field(max_length=200)] = None
    body: Annotated[Text, Field(min_length=1, max_length=5000)]
    condition: ConditionIn | None = Field(
        default=None, description="Delivered only if it holds when due; skipped otherwise"
    )

    def value(self) -> Step:
        condition = (
            None
            if self.condition is None
            else Condition(self.condition.min_level, frozenset(self.condition.tiers))
        )
        return Step(timedelta(seconds=self.delay_s), self.kind, self.body, self.title, condition)


class SequenceIn(Body):
    name: Annotated[Line, Field(min_length=1, max_length=100)]
    community_id: Annotated[Line | None, Field(max_length=200)] = Field(
        default=None,
        description="Only this community's members; absent: every community",
    )
    trigger: Trigger = Field(
        description=(
            "welcomed or activated (onboarding): a newcomer sequence; silent (insights' "
            "member.went_silent): a reactivation sequence, never started for a held-out "
            "member and stopped when the member engages again"
        )
    )
    steps: Annotated[list[StepIn], Field(min_length=1, max_length=20)]


class ActiveIn(Body):
    active: bool


class StepReach(BaseModel):
    delivered: int
    skipped: int


class SequenceOut(BaseModel):
    id: str
    name: str
    community_id: str | None
    trigger: str
    active: bool
    steps: list[dict[str, Any]]
    created_at: datetime

    @classmethod
    def of(cls, row: Row) -> SequenceOut:
        return cls.model_validate(dict(row._mapping))


class SequenceDetailOut(SequenceOut):
    runs: dict[str, int] = Field(description="Members' runs by status: running, done, stopped")
    reach: list[StepReach] = Field(description="Per step: members it was delivered to or skipped")
