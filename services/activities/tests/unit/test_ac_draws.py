"""Lucky draw rules: the commitment, winners recomputed from the revealed seed by an
independent implementation of the documented procedure, stock and weights, entries,
claims and redraws."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from activities.draws.domain import (
    Draw,
    Eligibility,
    InvalidDraw,
    Prize,
    PrizeKind,
    Refusal,
    Refused,
    check_claim,
    check_entry,
    check_redraw,
    commitment,
    first_draw,
    lapsed,
    new_seed,
    redraw,
    winners,
)

T0 = datetime(2026, 12, 1, 12, tzinfo=UTC)
CLOSE = T0 + timedelta(days=7)
POINTS = Prize("100 积分", PrizeKind.POINTS, quantity=3, weight=1, points=100)
BOOK = Prize("签名书", PrizeKind.OPERATOR, quantity=1, weight=1)


def draw(**kw: object) -> Draw:
    values: dict[str, object] = {"prizes": (POINTS, BOOK), "opens_at": T0, "closes_at": CLOSE}
    values.update(kw)
    return Draw(**values)  # type: ignore[arg-type]


def reason(call: object) -> Refusal:
    with pytest.raises(Refused) as caught:
        call()  # type: ignore[operator]
    return caught.value.reason


def recompute(
    seed: str, entrants: list[str], stock: list[tuple[int, int]], miss: int
) -> list[tuple[str, int]]:
    """The procedure as the README states it, written apart from the domain's code: what a
    member holding the revealed seed and the published entrant list would run."""
    counter = iter(range(10**9))

    def rand(n: int) -> int:
        k = next(counter)
        return int(hashlib.sha256(f"{seed}:{k}".encode()).hexdigest(), 16) % n

    people = sorted(set(entrants))
    for i in reversed(range(1, len(people))):
        j = rand(i + 1)
        people[i], people[j] = people[j], people[i]
    left = [q for q, _ in stock]
    out = []
    for person in people:
        if sum(left) == 0:
            break
        slots = [(index, w) for index, (q, w) in enumerate(stock) if left[index] > 0]
        r = rand(sum(w for _, w in slots) + miss)
        for index, w in slots:
            if r < w:
                left[index] -= 1
                out.append((person, index))
                break
            r -= w
    return out


members = st.lists(st.text("abcdefgh0123456789-", min_size=1, max_size=6), max_size=40)
stocks = st.lists(st.tuples(st.integers(1, 5), st.integers(1, 20)), min_size=1, max_size=5)


@given(
    seed=st.text("0123456789abcdef", min_size=8, max_size=64),
    entrants=members,
    stock=stocks,
    miss=st.integers(0, 30),
)
def test_anyone_recomputes_the_winners_from_the_revealed_seed(
    seed: str, entrants: list[str], stock: list[tuple[int, int]], miss: int
) -> None:
    won = winners(seed, entrants, stock, miss)
    assert [(w.member_id, w.prize) for w in won] == recompute(seed, entrants, stock, miss)
    # The published list's order is the sorted one: how entries arrived does not matter.
    assert winners(seed, list(reversed(entrants)), stock, miss) == won


@given(seed=st.text("0123456789abcdef", min_size=8), entrants=members, stock=stocks)
def test_each_prize_at_most_its_quantity_each_member_at_most_once(
    seed: str, entrants: list[str], stock: list[tuple[int, int]]
) -> None:
    won = winners(seed, entrants, stock)
    counts = Counter(w.prize for w in won)
    assert all(counts[i] <= q for i, (q, _) in enumerate(stock))
    assert len({w.member_id for w in won}) == len(won)
    assert {w.member_id for w in won} <= set(entrants)
    # Without a "no prize" weight every prize goes while entrants last.
    assert len(won) == min(len(set(entrants)), sum(q for q, _ in stock))


def test_the_commitment_is_the_seeds_sha256_and_seeds_differ() -> None:
    seed = new_seed()
    assert commitment(seed) == hashlib.sha256(seed.encode()).hexdigest()
    assert len(seed) == 64 and new_seed() != seed


def test_weights_set_each_prizes_chance() -> None:
    stock = [(10**4, 9), (10**4, 1)]
    firsts = Counter(winners(f"seed-{i}", ["m"], stock)[0].prize for i in range(2000))
    assert 1700 < firsts[0] < 1900  # 90% expected
    missed = sum(not winners(f"s-{i}", ["m"], [(5, 1)], miss_weight=3) for i in range(2000))
    assert 1400 < missed < 1600  # 75% draw "no prize"


def test_entries_in_the_window_once_if_eligible() -> None:
    d = draw()
    check_entry(d, why_not=None, entered=False, now=T0)
    assert (
        reason(lambda: check_entry(d, why_not=None, entered=False, now=T0 - timedelta(seconds=1)))
        is Refusal.NOT_OPEN
    )
    assert reason(lambda: check_entry(d, why_not=None, entered=False, now=CLOSE)) is Refusal.CLOSED
    drawn = draw(drawn_at=T0 + timedelta(days=1))
    assert reason(lambda: check_entry(drawn, why_not=None, entered=False, now=T0)) is Refusal.CLOSED
    assert (
        reason(lambda: check_entry(d, why_not="no", entered=False, now=T0)) is Refusal.NOT_ELIGIBLE
    )
    assert reason(lambda: check_entry(d, why_not=None, entered=True, now=T0)) is Refusal.ALREADY


@pytest.mark.parametrize(
    "kw",
    [
        {"prizes": ()},
        {"prizes": (POINTS, POINTS)},
        {"closes_at": T0},
        {"miss_weight": -1},
        {"claim_days": 0},
    ],
)
def test_invalid_draws(kw: dict[str, object]) -> None:
    with pytest.raises(InvalidDraw):
        draw(**kw)


@pytest.mark.parametrize(
    "prize",
    [
        {"kind": PrizeKind.POINTS},  # no points
        {"kind": PrizeKind.OPERATOR, "points": 5},
        {"kind": PrizeKind.MALL_ITEM},  # no item
        {"kind": PrizeKind.OPERATOR, "quantity": 0},
        {"kind": PrizeKind.OPERATOR, "weight": 0},
    ],
)
def test_invalid_prizes(prize: dict[str, object]) -> None:
    values: dict[str, object] = {"name": "x", "quantity": 1, **prize}
    with pytest.raises(InvalidDraw):
        Prize(**values)  # type: ignore[arg-type]


def test_claims_and_redraws_of_lapsed_prizes() -> None:
    d = draw(drawn_at=CLOSE)
    claim_by = d.claim_by(CLOSE)
    assert claim_by == CLOSE + timedelta(days=7)
    check_claim(BOOK, claim_by, False, claim_by - timedelta(seconds=1))
    assert reason(lambda: check_claim(BOOK, claim_by, False, claim_by)) is Refusal.CLAIM_EXPIRED
    assert reason(lambda: check_claim(BOOK, claim_by, True, CLOSE)) is Refusal.CLAIMED
    assert reason(lambda: check_claim(POINTS, claim_by, False, CLOSE)) is Refusal.CLAIMED
    assert lapsed(BOOK, claim_by, False, False, claim_by)
    assert not lapsed(BOOK, claim_by, False, False, claim_by - timedelta(seconds=1))
    assert not lapsed(BOOK, claim_by, True, False, claim_by)
    assert not lapsed(BOOK, claim_by, False, True, claim_by)
    assert not lapsed(POINTS, claim_by, False, False, claim_by)
    assert reason(lambda: check_redraw(draw(), 1)) is Refusal.NOT_DRAWN
    assert reason(lambda: check_redraw(d, 0)) is Refusal.NOTHING_TO_REDRAW
    check_redraw(d, 1)


@given(seed=st.text("0123456789abcdef", min_size=8), entrants=members)
def test_a_redraw_gives_back_prizes_to_entrants_who_have_not_won(
    seed: str, entrants: list[str]
) -> None:
    d = draw()
    first = first_draw(seed, d, entrants)
    past = {w.member_id for w in first}
    again = redraw(seed, 1, d, entrants, past, [1])
    assert not {w.member_id for w in again} & past
    assert [w.prize for w in again] == ([1] if set(entrants) - past else [])
    assert again == redraw(seed, 1, d, list(reversed(entrants)), past, [1])


def test_eligibility_by_challenge_level_and_tier() -> None:
    anyone = Eligibility()
    assert anyone.why_not(took_part=False, level=0, tier=None) is None
    rule = Eligibility(challenge=True, min_level=3, tiers=frozenset({"core"}))
    assert rule.why_not(took_part=True, level=3, tier="core") is None
    assert "challenge" in str(rule.why_not(took_part=False, level=3, tier="core"))
    assert "level 3" in str(rule.why_not(took_part=True, level=2, tier="core"))
    assert "tiers" in str(rule.why_not(took_part=True, level=9, tier="trial"))
    assert "tiers" in str(rule.why_not(took_part=True, level=9, tier=None))
