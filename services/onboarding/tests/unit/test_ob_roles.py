"""Community roles: the role → permission table, grant shapes, mentor rotation, welcome text."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onboarding.roles.domain import (
    DEFAULT_TEMPLATE,
    PERMISSIONS,
    InvalidGrant,
    Mentor,
    MentorKey,
    Permission,
    Role,
    TemplateError,
    check_grant,
    check_template,
    needs_elevation,
    next_mentor,
    permits,
    render,
)

P = Permission
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)

# ---------------------------------------------------------------- permissions


def test_every_role_has_its_permissions_listed() -> None:
    assert set(PERMISSIONS) == set(Role)


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.OWNER, set(Permission)),
        (Role.ADMIN, set(Permission)),
        (Role.OPERATOR, {P.MANAGE_COMMUNITY, P.REVIEW_APPLICATIONS, P.MODERATE, P.WELCOME}),
        (Role.MENTOR, {P.WELCOME}),
        (Role.REGIONAL_LEADER, {P.WELCOME}),
        (Role.GUEST_SPEAKER, set()),
        (Role.TITLE, set()),
    ],
)
def test_role_permissions(role: Role, allowed: set[Permission]) -> None:
    assert {p for p in Permission if permits([role], p)} == allowed


def test_permissions_add_up_and_nothing_is_no_permission() -> None:
    assert permits([Role.MENTOR, Role.OPERATOR], P.MODERATE)
    assert not permits([Role.MENTOR, Role.TITLE], P.MANAGE_ROLES)
    assert not permits([], P.WELCOME)


def test_only_owner_and_admin_need_elevation() -> None:
    assert {role for role in Role if needs_elevation(role)} == {Role.OWNER, Role.ADMIN}


@pytest.mark.parametrize(
    ("role", "group_id", "title"),
    [
        (Role.REGIONAL_LEADER, None, None),
        (Role.MENTOR, "g-1", None),
        (Role.TITLE, None, None),
        (Role.OPERATOR, None, "首席官"),
        (Role.TITLE, None, "长" * 41),
    ],
)
def test_malformed_grants(role: Role, group_id: str | None, title: str | None) -> None:
    with pytest.raises(InvalidGrant):
        check_grant(role, group_id=group_id, title=title)


def test_well_formed_grants() -> None:
    check_grant(Role.REGIONAL_LEADER, group_id="g-1", title=None)
    check_grant(Role.TITLE, group_id=None, title="首席读书官")
    check_grant(Role.GUEST_SPEAKER, group_id=None, title=None)


# ---------------------------------------------------------------- mentor rotation


def mentor(n: int, member: str | None = None) -> Mentor:
    return Mentor(MentorKey(T0 + timedelta(minutes=n), f"grant-{n}"), member or f"m{n}")


def test_no_mentors_no_assignment() -> None:
    assert next_mentor([], None) is None
    assert next_mentor([], MentorKey(T0, "x")) is None


def test_rotation_goes_round_in_grant_order() -> None:
    mentors = [mentor(3), mentor(1), mentor(2)]
    last: MentorKey | None = None
    picked = []
    for _ in range(7):
        chosen = next_mentor(mentors, last)
        assert chosen is not None
        picked.append(chosen.member_id)
        last = chosen.key
    assert picked == ["m1", "m2", "m3", "m1", "m2", "m3", "m1"]


def test_ties_in_grant_time_are_broken_by_id() -> None:
    a = Mentor(MentorKey(T0, "b"), "second")
    b = Mentor(MentorKey(T0, "a"), "first")
    first = next_mentor([a, b], None)
    assert first is not None and first.member_id == "first"
    after = next_mentor([a, b], first.key)
    assert after is not None and after.member_id == "second"


def test_a_revoked_last_mentor_does_not_reset_the_turn() -> None:
    # m2 took the last newcomer and was then revoked: m3 is next, not m1.
    chosen = next_mentor([mentor(1), mentor(3)], mentor(2).key)
    assert chosen is not None and chosen.member_id == "m3"


# Steps: ("activate",), ("grant", n) a new mentor, ("revoke", i) the i-th current mentor.
Step = tuple[str, int]
steps = st.lists(
    st.one_of(
        st.tuples(st.just("activate"), st.just(0)),
        st.tuples(st.just("grant"), st.just(0)),
        st.tuples(st.just("revoke"), st.integers(min_value=0, max_value=20)),
    ),
    max_size=120,
)


@settings(max_examples=300)
@given(initial=st.integers(min_value=0, max_value=5), script=steps)
def test_mentors_active_throughout_get_turns_within_one(initial: int, script: list[Step]) -> None:
    """However mentors come and go, the ones there from start to end are assigned newcomers
    within one of each other (a revoked or new mentor never makes the turn skip them)."""
    counter = initial
    current = [mentor(n) for n in range(initial)]
    ever_revoked: set[str] = set()
    last: MentorKey | None = None
    assigned: Counter[str] = Counter()
    for action, arg in script:
        if action == "activate":
            chosen = next_mentor(current, last)
            if chosen is not None:
                assigned[chosen.member_id] += 1
                last = chosen.key
        elif action == "grant":
            current.append(mentor(counter))
            counter += 1
        elif current:
            gone = current.pop(arg % len(current))
            ever_revoked.add(gone.member_id)
    throughout = [f"m{n}" for n in range(initial) if f"m{n}" not in ever_revoked]
    counts = [assigned[m] for m in throughout]
    if counts:
        assert max(counts) - min(counts) <= 1


@given(mentors=st.integers(min_value=1, max_value=8), newcomers=st.integers(0, 100))
def test_a_fixed_set_of_mentors_shares_newcomers_evenly(mentors: int, newcomers: int) -> None:
    current = [mentor(n) for n in range(mentors)]
    last: MentorKey | None = None
    assigned: Counter[str] = Counter()
    for _ in range(newcomers):
        chosen = next_mentor(current, last)
        assert chosen is not None
        assigned[chosen.member_id] += 1
        last = chosen.key
    counts = [assigned[m.member_id] for m in current]
    assert sum(counts) == newcomers and max(counts) - min(counts) <= 1


# ---------------------------------------------------------------- welcome template


def test_render_fills_placeholders_and_blanks_missing_values() -> None:
    template = "欢迎{member_name}加入{community_name}（{group_name}）！导师：{mentor_name}"
    values = {"member_name": "小林", "community_name": "读书会", "group_name": "1群"}
    assert render(template, {**values, "mentor_name": None}) == "欢迎小林加入读书会（1群）！导师："
    assert render("{{literal}} {member_name}", {"member_name": "x"}) == "{literal} x"


def test_default_template_is_valid() -> None:
    check_template(DEFAULT_TEMPLATE)


@pytest.mark.parametrize(
    "template",
    [
        "hi {name}",
        "{member_name.__class__}",
        "{member_name[0]}",
        "{member_name!r}",
        "{member_name:>10}",
        "{0}",
        "{}",
        "unbalanced {member_name",
        "stray }",
        "   ",
        "x" * 2001,
    ],
)
def test_bad_templates_are_refused(template: str) -> None:
    with pytest.raises(TemplateError):
        check_template(template)
