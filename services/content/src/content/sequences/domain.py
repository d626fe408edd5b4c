"""Newcomer and reactivation sequences (SOP), pure: what a sequence is, when each step
falls due, whether its condition holds for the member, and how a run moves.

A sequence starts for a member when its trigger arrives (onboarding's ``member.welcomed``
or ``membership.activated``; insights' ``member.went_silent`` for a reactivation
sequence) in its community (or any community when it names none). Each step waits its
delay after the previous step's due time, then is delivered to that one member, or
skipped when its condition does not hold then. Leaving, removal or a refund stops the
run: no later step fires. A silent member held out by insights (the control arm of the
reactivation report) is never started, and a reactivation run stops when the member
comes back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from content.audience.domain import SEATED, MembershipState, Tier

MAX_STEPS = 20
MAX_DELAY = timedelta(days=90)
MAX_TOTAL = timedelta(days=365)


class Trigger(StrEnum):
    WELCOMED = "welcomed"
    ACTIVATED = "activated"
    SILENT = "silent"  # insights' member.went_silent: a reactivation sequence


# Triggers whose runs end when the member engages again (insights' member.reactivated):
# they came back, no more nudges. A newcomer sequence goes on.
ENDS_ON_RETURN = frozenset({Trigger.SILENT})


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
    trigger: Trigger,
    sequence_community: str | None,
    event: Trigger,
    community_id: str,
    *,
    held_out: bool = False,
) -> bool:
    """The sequence starts on this event. A held-out member never starts anything: the
    reactivation report compares them, untouched, with the members who were contacted."""
    return not held_out and trigger is event and sequence_community in (None, community_id)


def ends_on_return(trigger: Trigger) -> bool:
    """A run of this trigger stops when the member engages again."""
    return trigger in ENDS_ON_RETURN


def occasion(trigger: Trigger, silent_since: datetime | None) -> str:
    """What makes a run unique beside its sequence and membership: nothing for a newcomer
    sequence (once per membership), the silence for a reactivation sequence (once per
    silence, so a member who goes silent again gets a new run; a redelivered silence,
    none)."""
    if trigger is Trigger.SILENT and silent_since is not None:
        return silent_since.isoformat()
    return ""


def reachable(
    memberships: Iterable[tuple[str, MembershipState]], community_id: str
) -> tuple[str, MembershipState] | None:
    """The membership a silence in ``community_id`` is about: the member's seated one
    there (the latest, should there be two). None when they hold no seat any more (left,
    removed, refunded, expired, banned): no outreach to a former member."""
    seated = [
        (membership_id, state)
        for membership_id, state in memberships
        if state.community_id == community_id and state.status in SEATED
    ]
    return max(seated, key=lambda found: (found[1].status_at, found[0]), default=None)


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
