"""Who may see a post and who may speak, and the projection's order tolerance."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from content.audience.domain import (
    Audience,
    MembershipFact,
    Mute,
    Placement,
    Seat,
    Silenced,
    Status,
    Viewer,
    best_speaking_seat,
    fold,
    may_see,
    may_speak,
    seat_qualifies,
)

T0 = datetime(2026, 12, 1, 8, tzinfo=UTC)
COMMUNITIES = ("c-1", "c-2", "c-3")
KINDS = ("trial", "core", "interest", "local")
TIERS = ("trial", "core")
ROLES = ("mentor", "guest")


def seat(community: str = "c-1", **kw: object) -> Seat:
    return Seat(community_id=community, status=kw.pop("status", Status.ACTIVE), **kw)  # type: ignore[arg-type]


def test_a_community_post_is_for_its_seated_members_only() -> None:
    audience = Audience(community_ids=frozenset({"c-1"}))
    assert may_see(audience, Viewer("m", (seat("c-1"),)))
    assert not may_see(audience, Viewer("m", (seat("c-2"),)))
    assert not may_see(audience, Viewer("m", (seat("c-1", status=Status.LEFT),)))
    assert not may_see(audience, Viewer("m", ()))


def test_a_muted_member_still_reads() -> None:
    muted = seat("c-1", muted_until=T0 + timedelta(days=1))
    assert may_see(Audience(community_ids=frozenset({"c-1"})), Viewer("m", (muted,)))


def test_tenant_wide_reaches_any_seated_member_but_no_outsider() -> None:
    audience = Audience(tenant_wide=True)
    assert may_see(audience, Viewer("m", (seat("c-9"),)))
    assert not may_see(audience, Viewer("m", (seat("c-9", status=Status.EXPIRED),)))
    assert not may_see(audience, Viewer("m", ()))


def test_axes_combine_on_the_same_seat() -> None:
    """Core tier in c-1 and an interest group in c-2 do not add up to "core interest"."""
    audience = Audience(tenant_wide=True, group_kinds=frozenset({"interest"}), tiers={"core"})  # type: ignore[arg-type]
    viewer = Viewer(
        "m",
        (
            seat("c-1", tier="core", group_kind="core"),
            seat("c-2", tier="trial", group_kind="interest"),
        ),
    )
    assert not may_see(audience, viewer)
    both = Viewer("m", (seat("c-3", tier="core", group_kind="interest"),))
    assert may_see(audience, both)


def test_minimum_level_and_roles() -> None:
    audience = Audience(community_ids=frozenset({"c-1"}), min_level=3, roles=frozenset({"guest"}))
    guest = seat("c-1", roles=frozenset({"guest"}))
    assert may_see(audience, Viewer("m", (guest,), level=3))
    assert not may_see(audience, Viewer("m", (guest,), level=2))
    assert not may_see(audience, Viewer("m", (seat("c-1"),), level=9))


seats = st.builds(
    Seat,
    community_id=st.sampled_from(COMMUNITIES),
    status=st.sampled_from(list(Status)),
    tier=st.none() | st.sampled_from(TIERS),
    group_kind=st.none() | st.sampled_from(KINDS),
    roles=st.frozensets(st.sampled_from(ROLES)),
)
viewers = st.builds(Viewer, st.just("m"), st.lists(seats, max_size=4).map(tuple), st.integers(1, 6))
audiences = st.builds(
    Audience,
    tenant_wide=st.booleans(),
    community_ids=st.frozensets(st.sampled_from(COMMUNITIES)),
    group_kinds=st.frozensets(st.sampled_from(KINDS)),
    tiers=st.frozensets(st.sampled_from(TIERS)),
    min_level=st.none() | st.integers(1, 6),
    roles=st.frozensets(st.sampled_from(ROLES)),
)


@given(audiences, viewers)
def test_visible_iff_one_seat_meets_every_axis(audience: Audience, viewer: Viewer) -> None:
    """The rule, restated axis by axis: a seat in scope, of an allowed kind and tier, with
    an allowed role, held by a member of the level."""

    def meets(s: Seat) -> bool:
        return (
            s.status is Status.ACTIVE
            and (audience.tenant_wide or s.community_id in audience.community_ids)
            and (not audience.group_kinds or s.group_kind in audience.group_kinds)
            and (not audience.tiers or s.tier in audience.tiers)
            and (not audience.roles or bool(audience.roles & s.roles))
        )

    level_ok = audience.min_level is None or viewer.level >= audience.min_level
    assert may_see(audience, viewer) == (level_ok and any(meets(s) for s in viewer.seats))


@given(audiences, viewers, seats)
def test_narrowing_an_audience_never_shows_more(
    audience: Audience, viewer: Viewer, extra: Seat
) -> None:
    narrower = Audience(
        tenant_wide=audience.tenant_wide,
        community_ids=audience.community_ids,
        group_kinds=audience.group_kinds or frozenset({"core"}),
        tiers=audience.tiers,
        min_level=(audience.min_level or 1) + 1,
        roles=audience.roles,
    )
    assert not may_see(narrower, viewer) or may_see(audience, viewer)
    # and a member with one more seat sees at least what they saw
    more = Viewer(viewer.member_id, (*viewer.seats, extra), viewer.level)
    assert not may_see(audience, viewer) or may_see(audience, more)


@given(audiences, viewers)
def test_audience_round_trips_through_json(audience: Audience, viewer: Viewer) -> None:
    again = Audience.from_json(audience.to_json())
    assert again == audience
    assert [seat_qualifies(again, s) for s in viewer.seats] == [
        seat_qualifies(audience, s) for s in viewer.seats
    ]


def test_who_may_speak() -> None:
    assert may_speak(seat(), T0) is None
    assert may_speak(None, T0) is Silenced.NOT_A_MEMBER
    assert may_speak(seat(status=Status.LEFT), T0) is Silenced.NOT_A_MEMBER
    assert may_speak(seat(status=Status.BANNED), T0) is Silenced.BANNED
    muted = seat(muted_until=T0 + timedelta(hours=1))
    assert may_speak(muted, T0) is Silenced.MUTED
    # the mute ends on time even before onboarding's unmuted event arrives
    assert may_speak(muted, T0 + timedelta(hours=1)) is None
    assert may_speak(seat(rules_muted=True), T0 + timedelta(days=99)) is Silenced.MUTED


def test_the_best_seat_speaks_and_the_most_telling_reason_is_given() -> None:
    muted = seat("c-1", muted_until=T0 + timedelta(days=1))
    free = seat("c-2")
    assert best_speaking_seat([muted, free], T0)[0] == free
    banned = seat("c-2", status=Status.BANNED)
    assert best_speaking_seat([muted, banned], T0) == (None, Silenced.BANNED)
    assert best_speaking_seat([muted], T0) == (None, Silenced.MUTED)
    assert best_speaking_seat([], T0) == (None, Silenced.NOT_A_MEMBER)


def _fact(minutes: int, **kw: object) -> MembershipFact:
    return MembershipFact("m", "c-1", T0 + timedelta(minutes=minutes), **kw)  # type: ignore[arg-type]


FACTS = [
    _fact(0, status=Status.ACTIVE, placement=Placement("trial", "g-trial")),
    _fact(5, placement=Placement("core", "g-core")),
    _fact(10, mute=Mute(T0 + timedelta(days=1), rules=False)),
    _fact(20, mute=Mute(None, rules=False)),
    _fact(30, status=Status.EXPIRED),
    _fact(40, status=Status.ACTIVE),
]


def _apply(facts: list[MembershipFact]) -> object:
    state = None
    for fact in facts:
        state = fold(state, fact)
    return state


def test_events_in_any_order_end_in_the_same_state() -> None:
    expected = _apply(FACTS)
    for order in itertools.permutations(FACTS):
        assert _apply(list(order)) == expected
    assert expected is not None
    assert expected.status is Status.ACTIVE and expected.tier == "core"  # type: ignore[attr-defined]
    assert expected.muted_until is None  # type: ignore[attr-defined]


@given(st.permutations(FACTS), st.integers(1, len(FACTS)))
def test_replaying_a_prefix_again_changes_nothing(order: list[MembershipFact], n: int) -> None:
    once = _apply(order)
    assert _apply([*order, *order[:n]]) == once


def test_a_mute_before_the_activation_keeps_the_member_muted() -> None:
    state = fold(None, FACTS[2])
    state = fold(state, FACTS[0])
    assert state.status is Status.ACTIVE
    assert state.muted_until == T0 + timedelta(days=1)
    assert state.tier == "trial" and state.group_id == "g-trial"


def test_an_older_end_still_applies_after_a_first_event_without_a_status() -> None:
    placed = _fact(20, placement=Placement("core", "g-core"))
    left = _fact(5, status=Status.LEFT)
    state = fold(fold(None, placed), left)
    assert state.status is Status.LEFT  # the placement said nothing of the status
    assert state.group_id == "g-core"
