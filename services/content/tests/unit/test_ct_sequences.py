"""Sequences' rules, directly: step rules, due times, conditions, triggers, and the
reactivation rules (held-out members never started, a return ends the run, the seat a
silence is about)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from content.audience.domain import MembershipState, Status, Tier
from content.sequences import domain
from content.sequences.domain import Condition, Step, StepKind, Trigger

T0 = datetime(2026, 12, 1, 8, tzinfo=UTC)


def step(seconds: int = 0, condition: Condition | None = None) -> Step:
    return Step(timedelta(seconds=seconds), StepKind.MESSAGE, "欢迎", condition=condition)


@pytest.mark.parametrize(
    ("steps", "slug"),
    [
        ((), "step-count"),
        (tuple(step() for _ in range(domain.MAX_STEPS + 1)), "step-count"),
        ((step(-1),), "step-delay"),
        ((step(91 * 86400),), "step-delay"),
        ((Step(timedelta(0), StepKind.POST, "  "),), "step-body"),
        (tuple(step(90 * 86400) for _ in range(5)), "sequence-length"),
    ],
)
def test_broken_step_rules_name_the_rule(steps: tuple[Step, ...], slug: str) -> None:
    with pytest.raises(domain.InvalidSequence) as raised:
        domain.check(steps)
    assert raised.value.slug == slug


@given(st.lists(st.integers(0, 86400 * 30), min_size=1, max_size=20))
def test_due_times_add_the_delays_and_never_go_back(delays: list[int]) -> None:
    steps = tuple(step(d) for d in delays)
    due = [domain.due_at(T0, steps, i) for i in range(len(steps))]
    assert due == sorted(due)
    assert due[-1] - T0 == timedelta(seconds=sum(delays))
    assert due[0] == T0 + timedelta(seconds=delays[0])


def test_next_step_ends_after_the_last() -> None:
    steps = (step(), step(60))
    assert domain.next_step(0, steps) == 1
    assert domain.next_step(1, steps) is None


@given(
    st.none() | st.integers(1, 10),
    st.frozensets(st.sampled_from(list(Tier))),
    st.integers(1, 10),
    st.sampled_from([None, "trial", "core"]),
)
def test_a_condition_holds_when_level_and_tier_both_do(
    min_level: int | None, tiers: frozenset[Tier], level: int, tier: str | None
) -> None:
    holds = domain.holds(Condition(min_level, tiers), level, tier)
    level_ok = min_level is None or level >= min_level
    tier_ok = not tiers or tier in tiers
    assert holds == (level_ok and tier_ok)
    assert domain.holds(None, level, tier)
    if holds:  # a higher level never makes it fail
        assert domain.holds(Condition(min_level, tiers), level + 1, tier)


def test_a_sequence_applies_to_its_trigger_in_its_community_or_everywhere() -> None:
    assert domain.applies(Trigger.WELCOMED, None, Trigger.WELCOMED, "c-1")
    assert domain.applies(Trigger.WELCOMED, "c-1", Trigger.WELCOMED, "c-1")
    assert not domain.applies(Trigger.WELCOMED, "c-2", Trigger.WELCOMED, "c-1")
    assert not domain.applies(Trigger.ACTIVATED, None, Trigger.WELCOMED, "c-1")


@given(
    st.sampled_from(list(Trigger)),
    st.sampled_from(list(Trigger)),
    st.sampled_from([None, "c-1", "c-2"]),
    st.sampled_from(["c-1", "c-2"]),
)
def test_a_held_out_member_is_never_started(
    trigger: Trigger, event: Trigger, sequence_community: str | None, community_id: str
) -> None:
    assert not domain.applies(trigger, sequence_community, event, community_id, held_out=True)
    # contacted: exactly the newcomer rule, whatever the trigger
    contacted = domain.applies(trigger, sequence_community, event, community_id, held_out=False)
    assert contacted == (trigger is event and sequence_community in (None, community_id))


def test_a_silence_starts_reactivation_sequences_only() -> None:
    assert domain.applies(Trigger.SILENT, None, Trigger.SILENT, "c-1")
    assert not domain.applies(Trigger.WELCOMED, None, Trigger.SILENT, "c-1")
    assert not domain.applies(Trigger.SILENT, None, Trigger.ACTIVATED, "c-1")


def test_a_return_ends_reactivation_runs_and_no_newcomer_run() -> None:
    assert domain.ends_on_return(Trigger.SILENT)
    assert not domain.ends_on_return(Trigger.WELCOMED)
    assert not domain.ends_on_return(Trigger.ACTIVATED)


@given(st.datetimes(timezones=st.just(UTC)), st.datetimes(timezones=st.just(UTC)))
def test_each_silence_is_its_own_occasion_and_a_newcomer_run_has_one(
    first: datetime, second: datetime
) -> None:
    one = domain.occasion(Trigger.SILENT, first)
    assert one == domain.occasion(Trigger.SILENT, first)  # a redelivery: the same run
    assert (one == domain.occasion(Trigger.SILENT, second)) == (first == second)
    assert len(one) <= 40  # the column
    for trigger in (Trigger.WELCOMED, Trigger.ACTIVATED):
        assert domain.occasion(trigger, first) == ""


def seat(community_id: str, status: Status, hours: int = 0) -> MembershipState:
    return MembershipState("m-1", community_id, status, T0 + timedelta(hours=hours), "core")


def test_a_silence_is_about_the_seated_membership_in_its_community() -> None:
    mine = [
        ("ms-old", seat("c-1", Status.LEFT)),
        ("ms-other", seat("c-2", Status.ACTIVE)),
        ("ms-now", seat("c-1", Status.ACTIVE, hours=5)),
    ]
    assert domain.reachable(mine, "c-1") == mine[2]
    assert domain.reachable(mine, "c-2") == mine[1]
    assert domain.reachable(mine, "c-3") is None
    assert domain.reachable([], "c-1") is None


@given(st.lists(st.tuples(st.sampled_from(list(Status)), st.integers(0, 100)), max_size=6))
def test_no_seat_no_outreach_and_the_latest_seat_wins(found: list[tuple[Status, int]]) -> None:
    mine = [(f"ms-{n}", seat("c-1", status, hours)) for n, (status, hours) in enumerate(found)]
    chosen = domain.reachable(mine, "c-1")
    seated = [one for one in mine if one[1].status is Status.ACTIVE]
    if not seated:
        assert chosen is None
        return
    assert chosen is not None and chosen[1].status is Status.ACTIVE
    assert chosen[1].status_at == max(one[1].status_at for one in seated)
