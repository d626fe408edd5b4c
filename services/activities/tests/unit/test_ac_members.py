"""The membership projection's rules: order tolerance and who may take part."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from activities.members.domain import (
    DEFAULT_ZONE,
    MembershipFact,
    MembershipState,
    Status,
    fold,
    may_take_part,
    tier_in,
    zone,
)

T0 = datetime(2026, 12, 1, 8, tzinfo=UTC)


def fact(minutes: int, **kw: object) -> MembershipFact:
    return MembershipFact("m-1", "c-1", T0 + timedelta(minutes=minutes), **kw)  # type: ignore[arg-type]


facts = st.lists(
    st.one_of(
        st.builds(lambda s: {"status": s}, st.sampled_from(list(Status))),
        st.builds(lambda g: {"group_id": g, "placed": True}, st.sampled_from(["g-1", "g-2", None])),
        st.builds(lambda t: {"tier": t}, st.sampled_from(["trial", "core"])),
    ),
    min_size=1,
    max_size=8,
).flatmap(lambda parts: st.permutations(list(enumerate(parts))).map(lambda p: (parts, p)))


def apply(items: list[tuple[int, dict[str, object]]]) -> MembershipState:
    state = None
    for minutes, parts in items:
        state = fold(state, fact(minutes, **parts))
    assert state is not None
    return state


@given(facts)
def test_events_in_any_order_end_in_the_state_of_the_history_in_order(
    case: tuple[list[dict[str, object]], list[tuple[int, dict[str, object]]]],
) -> None:
    parts, shuffled = case
    in_order = apply(list(enumerate(parts)))
    assert apply(shuffled) == in_order


def test_an_older_end_never_unseats_a_newer_activation() -> None:
    state = fold(None, fact(10, status=Status.ACTIVE, group_id="g-1", placed=True))
    state = fold(state, fact(5, status=Status.ENDED))
    assert state.active and state.group_id == "g-1"
    assert may_take_part([state], "c-1") and may_take_part([state], "c-1", "g-1")
    assert not may_take_part([state], "c-1", "g-2") and not may_take_part([state], "c-2")
    ended = fold(state, fact(20, status=Status.ENDED))
    assert not may_take_part([ended], "c-1")


def test_an_unknown_zone_is_the_default() -> None:
    assert zone("Mars/Olympus").key == DEFAULT_ZONE
    assert zone(None).key == DEFAULT_ZONE
    assert zone("America/New_York").key == "America/New_York"


def test_the_tier_follows_the_newest_event_that_names_one() -> None:
    state = fold(None, fact(10, status=Status.ACTIVE, tier="core"))
    state = fold(state, fact(5, tier="trial"))  # older: ignored
    state = fold(state, fact(20, group_id="g-2", placed=True))  # says nothing of the tier
    assert tier_in([state], "c-1") == "core" and tier_in([state], "c-2") is None
    ended = fold(state, fact(30, status=Status.ENDED))
    assert tier_in([ended], "c-1") is None
