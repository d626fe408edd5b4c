"""Who may sit where, when a seat is chosen by hand rather than by routing: pure rules.

- An **operator** moves a seated membership (trial, active, muted) to any other group of its
  community. The group's requirements and its capacity hold unless the operator forces the
  move: a forced move into a full group grows the group by one seat (capacity is never
  exceeded, it is raised, visibly, by ``group.updated``).
- A **member** switches themselves only into an interest or local group (the groups members
  choose; trial and core groups are placed by routing and operators) whose requirements their
  tier and level meet, with room, while trial or active (a muted member waits for the mute to
  end). They may switch from any group, or from none while waiting for a seat.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from onboarding.joins.domain import Candidate, Requirements, meets
from onboarding.membership.domain import Refused
from onboarding.membership.states import Status, holds_seat

# Groups members choose themselves (兴趣群, 同城群); routing never hands their seats out.
SELF_SERVICE_KINDS = frozenset({"interest", "local"})


@dataclass(frozen=True)
class Sitter:
    """The membership being moved, as the rules see it."""

    status: Status
    group_id: str | None
    candidate: Candidate


@dataclass(frozen=True)
class Place:
    """The group asked for, with its load as last read (the conditional update decides)."""

    group_id: str
    kind: str
    requires: Requirements
    has_room: bool


class Move(StrEnum):
    UNCHANGED = "unchanged"  # already there
    MOVE = "move"
    MOVE_GROWING = "move_growing"  # forced into a full group: one more seat first


def operator_move(sitter: Sitter, place: Place, *, force: bool = False) -> Move:
    """An operator's move; ``force`` overrides the group's requirements and capacity."""
    _seated(sitter)
    if sitter.group_id == place.group_id:
        return Move.UNCHANGED
    if not force and not meets(place.requires, sitter.candidate):
        raise Refused(
            409,
            "requirements-not-met",
            "Requirements not met",
            "the member's tier or level does not meet the group's requirements "
            "(force: true places them anyway)",
        )
    if not place.has_room:
        if not force:
            raise group_full()
        return Move.MOVE_GROWING
    return Move.MOVE


def member_switch(sitter: Sitter, place: Place) -> Move:
    """A member's own switch into an interest or local group their tier and level allow."""
    _seated(sitter)
    if sitter.status == Status.MUTED:
        raise Refused(403, "muted", "Muted", "a muted member cannot switch groups")
    if place.kind not in SELF_SERVICE_KINDS:
        raise Refused(
            403,
            "group-not-switchable",
            "Group not open to switching",
            f"members switch only into {' or '.join(sorted(SELF_SERVICE_KINDS))} groups",
        )
    if sitter.group_id == place.group_id:
        return Move.UNCHANGED
    if not meets(place.requires, sitter.candidate):
        raise Refused(
            403,
            "group-not-allowed",
            "Group not allowed",
            "your tier or level does not meet this group's requirements",
        )
    if not place.has_room:
        raise group_full()
    return Move.MOVE


def may_switch_into(sitter: Sitter, place: Place) -> bool:
    """Would ``member_switch`` accept this group (the member's list of choices)?"""
    try:
        member_switch(sitter, place)
    except Refused:
        return False
    return True


def group_full() -> Refused:
    return Refused(409, "group-full", "Group full", "the group has no free seat")


def _seated(sitter: Sitter) -> None:
    if not holds_seat(sitter.status):
        raise Refused(
            409, "not-seated", "Not in the community", f"the membership is {sitter.status}"
        )
