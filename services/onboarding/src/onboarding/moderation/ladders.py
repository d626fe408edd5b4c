"""A community's ladder as stored (its ``moderation_ladders`` row) and as the domain
reads it; without a row, the default ladder."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from onboarding.moderation.domain import DEFAULT_LADDER, Ladder, SanctionKind, Step
from onboarding.orm import ModerationLadder


def ladder_of(row: ModerationLadder | None) -> Ladder:
    if row is None:
        return DEFAULT_LADDER
    steps = tuple(
        Step(SanctionKind(step["kind"]), _hours(step.get("duration_hours"))) for step in row.steps
    )
    return Ladder(steps, timedelta(days=row.strike_decay_days))


def _hours(value: Any) -> timedelta | None:
    return timedelta(hours=int(value)) if value else None


def steps_json(ladder: Ladder) -> list[dict[str, Any]]:
    return [
        {
            "kind": str(step.kind),
            "duration_hours": step.duration // timedelta(hours=1) if step.duration else None,
        }
        for step in ladder.steps
    ]
