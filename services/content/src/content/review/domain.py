"""Review (审核) of members' posts and comments: when an item needs review, and the state
machine of its review."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ReviewState(StrEnum):
    PENDING = "pending"  # in the review queue, seen by its author and operators only
    APPROVED = "approved"  # published
    REJECTED = "rejected"  # hidden, with the reason; final


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    RESUBMIT = "resubmit"  # a member edited an approved post: it is reviewed again


# Rejecting an approved item is allowed (something slipped through): rewards reverses
# what the approval earned, from the event. A rejection is final.
TRANSITIONS: dict[tuple[ReviewState, Decision], ReviewState] = {
    (ReviewState.PENDING, Decision.APPROVE): ReviewState.APPROVED,
    (ReviewState.PENDING, Decision.REJECT): ReviewState.REJECTED,
    (ReviewState.APPROVED, Decision.REJECT): ReviewState.REJECTED,
    (ReviewState.APPROVED, Decision.RESUBMIT): ReviewState.PENDING,
    (ReviewState.PENDING, Decision.RESUBMIT): ReviewState.PENDING,
}


class NotAllowed(ValueError):
    def __init__(self, state: ReviewState, decision: Decision) -> None:
        super().__init__(f"cannot {decision.value} an item that is {state.value}")
        self.state = state
        self.decision = decision


@dataclass(frozen=True)
class Change:
    before: ReviewState
    after: ReviewState

    @property
    def published(self) -> bool:
        """The item becomes visible to its audience with this change."""
        return self.after is ReviewState.APPROVED and self.before is not ReviewState.APPROVED

    @property
    def retracted(self) -> bool:
        """An approved item is withdrawn (what it earned should be reversed)."""
        return self.before is ReviewState.APPROVED and self.after is not ReviewState.APPROVED


def decide(state: ReviewState, decision: Decision) -> Change:
    after = TRANSITIONS.get((state, decision))
    if after is None:
        raise NotAllowed(state, decision)
    return Change(state, after)


# Community roles (onboarding's role.granted) that moderate a community with a member
# token, as onboarding lets them moderate members: they review members' posts and
# comments written in that community.
MODERATOR_ROLES = frozenset({"owner", "admin", "operator"})


def moderates(roles: set[tuple[str, str]], community_id: str | None) -> bool:
    """Whether ``(community_id, role)`` grants make their holder a moderator there."""
    return community_id is not None and any(
        community == community_id and role in MODERATOR_ROLES for community, role in roles
    )


def needs_review(*, by_operator: bool, level: int, auto_approve_level: int | None) -> bool:
    """Operators publish directly; a member's item is reviewed unless the community lets
    members at their level publish without review."""
    if by_operator:
        return False
    return auto_approve_level is None or level < auto_approve_level


def initial_state(*, by_operator: bool, level: int, auto_approve_level: int | None) -> ReviewState:
    if needs_review(by_operator=by_operator, level=level, auto_approve_level=auto_approve_level):
        return ReviewState.PENDING
    return ReviewState.APPROVED
