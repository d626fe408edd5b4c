"""Point drop rules: the shares sum to the total exactly, each at least the minimum,
reproducible from the drop's seed; claims refused when over, empty or repeated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from activities.drops.domain import (
    MAX_MINUTES,
    Drop,
    InvalidDrop,
    Refusal,
    Refused,
    Split,
    check_claim,
    expiry,
    new_seed,
    returned,
    shares,
)

T0 = datetime(2026, 12, 1, 12, tzinfo=UTC)


@st.composite
def drops(draw: st.DrawFn) -> Drop:
    slots = draw(st.integers(1, 300))
    min_points = draw(st.integers(1, 20))
    total = draw(st.integers(slots * min_points, slots * min_points + 5000))
    split = draw(st.sampled_from(Split))
    return Drop(total, slots, split, min_points, T0 + timedelta(days=1))


@given(drop=drops(), seed=st.text("0123456789abcdef", min_size=8, max_size=32))
def test_shares_sum_to_the_total_each_at_least_the_minimum(drop: Drop, seed: str) -> None:
    found = shares(drop, seed)
    assert len(found) == drop.slots
    assert sum(found) == drop.total
    assert min(found) >= drop.min_points
    assert shares(drop, seed) == found  # reproducible from the seed kept with the drop
    if drop.split is Split.EQUAL:
        assert max(found) - min(found) <= 1


def test_a_random_split_varies_with_the_seed() -> None:
    drop = Drop(1000, 10, Split.RANDOM, 1, T0)
    assert len({tuple(shares(drop, new_seed())) for _ in range(20)}) > 1
    # The double-mean rule: no share beyond twice the mean of what is left.
    for _ in range(50):
        assert max(shares(drop, new_seed())[:-1]) <= 2 * 1000 // 2


def test_claims_are_refused_when_over_empty_or_repeated() -> None:
    drop = Drop(100, 2, Split.EQUAL, 1, T0 + timedelta(hours=1))
    check_claim(drop, claimed_before=False, claimed=1, now=T0)

    def reason(**kw: object) -> Refusal:
        values: dict[str, object] = {"claimed_before": False, "claimed": 0, "now": T0, **kw}
        with pytest.raises(Refused) as caught:
            check_claim(drop, **values)  # type: ignore[arg-type]
        return caught.value.reason

    assert reason(now=T0 + timedelta(hours=1)) is Refusal.EXPIRED
    assert reason(claimed_before=True) is Refusal.ALREADY
    assert reason(claimed=2) is Refusal.EMPTY
    expired = Drop(100, 2, Split.EQUAL, 1, T0 + timedelta(hours=1), expired_at=T0)
    with pytest.raises(Refused):
        check_claim(expired, claimed_before=False, claimed=0, now=T0)
    assert returned(100, 60) == 40


@pytest.mark.parametrize(
    ("total", "slots", "min_points"),
    [(10, 0, 1), (10, 11, 1), (10, 3, 4), (0, 1, 1), (10, 1, 0), (10**7, 1, 1)],
)
def test_invalid_drops(total: int, slots: int, min_points: int) -> None:
    with pytest.raises(InvalidDrop):
        Drop(total, slots, Split.RANDOM, min_points, T0)


def test_expiry_within_a_week() -> None:
    assert expiry(T0, 30) == T0 + timedelta(minutes=30)
    for minutes in (0, MAX_MINUTES + 1):
        with pytest.raises(InvalidDrop):
            expiry(T0, minutes)
