"""Newcomer sequences (SOP), pure: what a sequence is, when each step falls due, whether
its condition holds for the member, and how a run moves.

A sequence starts for a member when its trigger arrives (onboarding's ``member.welcomed``
or ``membership.activated``) in its community (or any community when it names none). Each
step waits its delay after the previous step's due time, then is delivered to that one
member, or skipped when its condition does not hold then. Leaving, removal or a refund
stops the run: no later step fires.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from content.audience.domain import Tier

MAX_STEPS = 20
MAX_DELAY = timedelta(days=90)
MAX_TOTAL = timedelta(days=365)


class Trigger(StrEnum):
    WELCOMED = "welcomed"
    ACTIVATED = "activated"


class StepKind(StrEnum):
    MESSAGE = "message"  # a private message to the member
    POST = "post"  # a post shown to the member alone


class RunStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"
    STOPPED = "stopped"


class Outcome(StrEnum):
    DELIVERED = "delivered"
    SKIPPED = "skipped"


class InvalidSequence(ValueError):
    def __init__(self, slug: str, detail: str) -> None:
        super().__init__(detail)
        self.slug = slug
        self.detail = detail


@dataclass(frozen=True)
class Condition:
    """Holds when the member, at the step's time, still has an active seat in the run's
    community, at or above ``min_level``, and (if given) in one of ``tiers``."""

    min_level: int | None = None
    tiers: frozenset[Tier] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Step:
    delay: timedelta
    kind: StepKind
    body: str
    title: str | None = None
    condition: Condition | None = None


def check(steps: tuple[Step, ...]) -> None:
    """The rules of a sequence's steps; raises InvalidSequence with the rule broken."""
    if not 1 <= len(steps) <= MAX_STEPS:
        raise InvalidSequence("step-count", f"a sequence has 1 to {MAX_STEPS} steps")
    for index, step in enumerate(steps):
        if step.delay < timedelta(0) or step.delay > MAX_DELAY:
            raise InvalidSequence("step-delay", f"step {index}: a delay is 0 to 90 days")
        if not step.body.strip():
            raise InvalidSequence("step-body", f"step {index}: a step needs a body")
    if sum((step.delay for step in steps), timedelta(0)) > MAX_TOTAL:
        raise InvalidSequence("sequence-length", "a sequence lasts at most a year")


def due_at(started_at: datetime, steps: tuple[Step, ...], index: int) -> datetime:
    """When step ``index`` falls due: the delays up to and including it, from the start."""
    return started_at + sum((step.delay for step in steps[: index + 1]), timedelta(0))


def applies(
    trigger: Trigger, sequence_community: str | None, event: Trigger, community_id: str
) -> bool:
    return trigger is event and sequence_community in (None, community_id)


def holds(condition: Condition | None, level: int, tier: str | None) -> bool:
    """The step's condition, on the member's level and tier at the step's time (the run
    being still on means they have not left, been removed or refunded)."""
    if condition is None:
        return True
    if condition.min_level is not None and level < condition.min_level:
        return False
    return not condition.tiers or tier in condition.tiers


def next_step(index: int, steps: tuple[Step, ...]) -> int | None:
    return index + 1 if index + 1 < len(steps) else None
