"""Newcomer sequences' rules, directly: step rules, due times, conditions, triggers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from content.audience.domain import Tier
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
