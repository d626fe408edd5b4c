"""Seats by hand (seats.domain): operators' moves and members' own switches, as pure rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onboarding.joins.domain import Candidate, Requirements, meets
from onboarding.membership.domain import Refused
from onboarding.membership.states import Status
from onboarding.seats.domain import (
    SELF_SERVICE_KINDS,
    Move,
    Place,
    Sitter,
    may_switch_into,
    member_switch,
    operator_move,
)

CORE = Candidate(tier="core", level=3)
ANY = Requirements()
TRIAL = Candidate(tier="trial", level=1)


def sitter(
    status: Status = Status.ACTIVE, group: str | None = "g1", who: Candidate = CORE
) -> Sitter:
    return Sitter(status, group, who)


def place(
    gid: str = "g2",
    kind: str = "interest",
    requires: Requirements = ANY,
    room: bool = True,
) -> Place:
    return Place(gid, kind, requires, room)


def refusal(call: object, *args: object, **kwargs: object) -> tuple[int, str]:
    with pytest.raises(Refused) as refused:
        call(*args, **kwargs)  # type: ignore[operator]
    return refused.value.status, refused.value.slug


def test_operators_move_into_any_group_with_room_that_admits_the_member() -> None:
    assert operator_move(sitter(), place(kind="core")) == Move.MOVE
    assert operator_move(sitter(group=None), place(kind="core")) == Move.MOVE  # was waiting
    assert operator_move(sitter(group="g2"), place("g2")) == Move.UNCHANGED
    assert refusal(operator_move, sitter(), place(room=False)) == (409, "group-full")
    vip = place(kind="core", requires=Requirements(min_level=5))
    assert refusal(operator_move, sitter(), vip) == (409, "requirements-not-met")


def test_force_grows_a_full_group_and_overrides_requirements() -> None:
    assert operator_move(sitter(), place(room=False), force=True) == Move.MOVE_GROWING
    vip = place(kind="core", requires=Requirements(min_tier="core", min_level=9))
    assert operator_move(sitter(who=TRIAL), vip, force=True) == Move.MOVE


@pytest.mark.parametrize(
    "status", [Status.LEFT, Status.EXPIRED, Status.PENDING_PAYMENT, Status.BANNED]
)
def test_only_seated_memberships_move(status: Status) -> None:
    assert refusal(operator_move, sitter(status), place(), force=True) == (409, "not-seated")
    assert refusal(member_switch, sitter(status), place()) == (409, "not-seated")


def test_members_switch_only_into_interest_and_local_groups_they_qualify_for() -> None:
    assert member_switch(sitter(), place(kind="interest")) == Move.MOVE
    assert member_switch(sitter(group=None), place(kind="local")) == Move.MOVE
    assert member_switch(sitter(group="g2"), place("g2")) == Move.UNCHANGED
    assert refusal(member_switch, sitter(), place(kind="core")) == (403, "group-not-switchable")
    assert refusal(member_switch, sitter(), place(kind="trial")) == (403, "group-not-switchable")
    core_only = place(requires=Requirements(min_tier="core"))
    assert refusal(member_switch, sitter(who=TRIAL), core_only) == (403, "group-not-allowed")
    assert member_switch(sitter(Status.TRIAL, who=TRIAL), place()) == Move.MOVE
    assert refusal(member_switch, sitter(), place(room=False)) == (409, "group-full")
    assert refusal(member_switch, sitter(Status.MUTED), place()) == (403, "muted")


TIERS = st.sampled_from(["trial", "core"])
KINDS = st.sampled_from(["trial", "core", "interest", "local", "temporary"])
STATUSES = st.sampled_from(list(Status))


@given(
    status=STATUSES,
    tier=TIERS,
    level=st.integers(1, 10),
    kind=KINDS,
    min_tier=st.none() | TIERS,
    min_level=st.none() | st.integers(1, 10),
    room=st.booleans(),
)
def test_a_switch_is_accepted_exactly_when_every_rule_holds(
    status: Status,
    tier: str,
    level: int,
    kind: str,
    min_tier: str | None,
    min_level: int | None,
    room: bool,
) -> None:
    """The rules combine as a conjunction: no rule lets a member past another."""
    who = Candidate(tier=tier, level=level)
    requires = Requirements(min_tier, min_level)
    allowed = (
        status in (Status.TRIAL, Status.ACTIVE)
        and kind in SELF_SERVICE_KINDS
        and meets(requires, who)
        and room
    )
    assert may_switch_into(sitter(status, "g1", who), place("g2", kind, requires, room)) == allowed


@given(
    status=STATUSES,
    tier=TIERS,
    level=st.integers(1, 10),
    min_tier=st.none() | TIERS,
    min_level=st.none() | st.integers(1, 10),
    room=st.booleans(),
)
def test_a_forced_move_only_needs_a_seated_membership(
    status: Status,
    tier: str,
    level: int,
    min_tier: str | None,
    min_level: int | None,
    room: bool,
) -> None:
    who = Candidate(tier=tier, level=level)
    target = place("g2", "core", Requirements(min_tier, min_level), room)
    if status not in (Status.TRIAL, Status.ACTIVE, Status.MUTED):
        assert refusal(operator_move, sitter(status, "g1", who), target, force=True)[0] == 409
        return
    expected = Move.MOVE if room else Move.MOVE_GROWING
    assert operator_move(sitter(status, "g1", who), target, force=True) == expected
