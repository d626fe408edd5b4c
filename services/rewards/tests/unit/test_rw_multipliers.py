"""Multipliers by level and tier on earning rules: pure logic and its properties."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rewards.rules.domain import (
    MAX_POINTS,
    Caps,
    EarnedSoFar,
    EarningRule,
    Multipliers,
    capped,
    multiplied,
)
from rewards.rules.sources import default_rules

TABLE = {"by_level": {"5": 1.5, "7": 2}, "by_tier": {"core": 1.2}}


def check_in(**changes: Any) -> EarningRule:
    rule = next(r for r in default_rules() if r.rule_id == "daily-check-in")
    return replace(rule, **changes)


def test_highest_reached_level_times_tier() -> None:
    table = Multipliers.from_dict(TABLE)
    assert table.factor(1, None) == 1
    assert table.factor(5, None) == Decimal("1.5")
    assert table.factor(6, "core") == Decimal("1.8")
    assert table.factor(9, "core") == Decimal("2.4")
    assert table.factor(9, "trial") == 2  # an unknown tier multiplies by 1


def test_the_highest_factor_reached_wins_even_if_the_table_is_not_increasing() -> None:
    table = Multipliers.from_dict({"by_level": {"3": 2, "6": 1.5}})
    assert table.factor(7, None) == 2


def test_rounded_down_exactly() -> None:
    # 1.15 × 100 is 114.999… in binary floating point: decimals keep it 115.
    assert multiplied(100, Decimal("1.15")) == 115
    assert multiplied(3, Decimal("1.5")) == 4
    assert multiplied(1, Decimal("0.5")) == 0
    assert multiplied(MAX_POINTS, Decimal(10)) == MAX_POINTS


def test_rule_boosts_by_the_events_tier_and_the_members_level() -> None:
    rule = check_in(points=10, multipliers=Multipliers.from_dict(TABLE))
    assert rule.boosted(10, 1, {"tier": "core"}) == 12
    assert rule.boosted(10, 7, {"tier": "core"}) == 24
    assert rule.boosted(10, 7, {}) == 20
    assert rule.boosted(10, 7, {"tier": 3}) == 20  # not a string: no tier


def test_round_trip_through_storage() -> None:
    rule = check_in(multipliers=Multipliers.from_dict({"by_level": {"2": "1.15"}}))
    again = EarningRule.from_dict(rule.to_dict())
    assert again == rule
    assert rule.to_dict()["multipliers"] == {"by_level": {"2": "1.15"}, "by_tier": {}}


def test_stored_rules_without_multipliers_still_load() -> None:
    raw = check_in().to_dict()
    del raw["multipliers"]
    assert EarningRule.from_dict(raw).multipliers == Multipliers()


@pytest.mark.parametrize(
    "raw",
    [
        {"by_level": {"5": 0}},
        {"by_level": {"5": -1}},
        {"by_level": {"5": 0.9}},
        {"by_level": {"5": 11}},
        {"by_level": {"0": 2}},
        {"by_level": {"x": 2}},
        {"by_tier": {"core": "NaN"}},
        {"by_tier": {"core": "Infinity"}},
        {"by_tier": {"core": True}},
        {"by_tier": ["core"]},
        [1, 2],
    ],
)
def test_bad_tables_are_refused(raw: Any) -> None:
    with pytest.raises(ValueError):
        Multipliers.from_dict(raw)


factors = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(10), places=2)
bonuses = st.decimals(min_value=Decimal(1), max_value=Decimal(10), places=2)
levels = st.dictionaries(st.integers(1, 20), bonuses, max_size=5)
tiers = st.dictionaries(st.sampled_from(["core", "trial", "vip"]), factors, max_size=3)


@given(points=st.integers(1, MAX_POINTS), factor=factors)
def test_a_factor_of_at_least_one_never_lowers_points(points: int, factor: Decimal) -> None:
    result = multiplied(points, factor)
    assert 0 <= result <= MAX_POINTS
    if factor >= 1:
        assert result >= points
    else:
        assert result <= points


@given(
    by_level=levels,
    by_tier=tiers,
    level=st.integers(1, 20),
    tier=st.sampled_from([None, "core", "trial", "vip", "other"]),
    points=st.integers(1, 1000),
    cap=st.integers(1, 500),
    used=st.integers(0, 600),
)
def test_caps_still_hold_with_multipliers(
    by_level: dict[int, Decimal],
    by_tier: dict[str, Decimal],
    level: int,
    tier: str | None,
    points: int,
    cap: int,
    used: int,
) -> None:
    rule = check_in(
        points=points,
        caps=Caps(per_day=cap),
        multipliers=Multipliers(by_level=by_level, by_tier=by_tier),
    )
    boosted = rule.boosted(points, level, {"tier": tier} if tier else {})
    allowed = capped(boosted, rule.caps, EarnedSoFar(day=used, week=used, month=used))
    assert 0 <= allowed <= max(cap - used, 0)
    assert allowed <= boosted


@given(by_level=levels, low=st.integers(1, 20), high=st.integers(1, 20))
def test_a_higher_level_never_gets_a_smaller_factor(
    by_level: dict[int, Decimal], low: int, high: int
) -> None:
    table = Multipliers(by_level=by_level)
    low, high = min(low, high), max(low, high)
    assert table.factor(high, None) >= table.factor(low, None)
