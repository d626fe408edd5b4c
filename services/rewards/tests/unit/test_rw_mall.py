"""The mall's rules: what a member may redeem, and how a redemption may end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rewards.mall.domain import ItemTerms, RedemptionStatus, Refusal, can_move, valid_window

AT = datetime(2026, 11, 21, 8, tzinfo=UTC)


def refusal(terms: ItemTerms, *, level: int = 1, available: int = 100, redeemed: int = 0) -> object:
    return terms.refusal(at=AT, level=level, available=available, redeemed=redeemed)


def test_refusals_in_order() -> None:
    terms = ItemTerms(cost=50, min_level=3, per_member_limit=2)
    assert refusal(terms, level=3) is None
    assert refusal(terms, level=2) is Refusal.LEVEL_TOO_LOW
    assert refusal(terms, level=3, redeemed=2) is Refusal.LIMIT_REACHED
    assert refusal(terms, level=3, available=49) is Refusal.INSUFFICIENT_POINTS
    assert refusal(ItemTerms(cost=1, archived=True)) is Refusal.UNAVAILABLE


def test_active_window_is_half_open() -> None:
    terms = ItemTerms(cost=1, active_from=AT, active_until=AT + timedelta(days=1))
    assert terms.on_offer(AT)
    assert not terms.on_offer(AT - timedelta(seconds=1))
    assert not terms.on_offer(AT + timedelta(days=1))
    assert valid_window(None, AT) and valid_window(AT, None)
    assert not valid_window(AT, AT)


def test_left_for_a_member() -> None:
    assert ItemTerms(cost=1).left_for(5) is None
    assert ItemTerms(cost=1, per_member_limit=2).left_for(1) == 1
    assert ItemTerms(cost=1, per_member_limit=2).left_for(3) == 0


def test_a_redemption_closes_once() -> None:
    requested, fulfilled, cancelled = RedemptionStatus
    assert can_move(requested, fulfilled) and can_move(requested, cancelled)
    assert not can_move(fulfilled, cancelled) and not can_move(cancelled, fulfilled)
    assert not can_move(requested, requested)
