"""The operator's budget by example, then a property test: drops' events in any order never
pay more than a drop's total nor more than was funded, and balances = sums of entries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rewards.budgets.domain import (
    Budget,
    BudgetError,
    DropNews,
    DropState,
    Entry,
    EntryKind,
    InsufficientBudget,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def news(drop_id: str, total: int) -> DropNews:
    return DropNews(drop_id, total, T0, "c-1")


def funded(points: int) -> tuple[Budget, list[Entry]]:
    budget = Budget()
    return budget, budget.fund("fund:k", points, T0, actor_id="op-1", reason="launch")


def sums(entries: list[Entry]) -> tuple[int, int]:
    return sum(e.available_delta for e in entries), sum(e.reserved_delta for e in entries)


def test_funding_then_a_withdrawal_of_unreserved_points_only() -> None:
    budget, entries = funded(100)
    entries += budget.open(news("d-1", 60))
    with pytest.raises(InsufficientBudget):
        budget.fund("fund:w", -41, T0, actor_id="op-1", reason="too much")
    entries += budget.fund("fund:w", -40, T0, actor_id="op-1", reason="back")
    assert (budget.available, budget.reserved) == (0, 60)
    assert entries[-1].kind is EntryKind.WITHDRAW
    assert sums(entries) == (budget.available, budget.reserved)


def test_zero_or_huge_fundings_are_refused() -> None:
    with pytest.raises(BudgetError):
        Budget().fund("fund:z", 0, T0, actor_id="op-1", reason="nothing")
    with pytest.raises(BudgetError):
        Budget().fund("fund:z", 10**12, T0, actor_id="op-1", reason="too much")


def test_a_drop_reserves_pays_its_claims_and_releases_the_rest() -> None:
    budget, entries = funded(100)
    entries += budget.open(news("d-1", 50))
    entries += budget.pay(news("d-1", 50), "cl-1", "m-1", 20)
    entries += budget.pay(news("d-1", 50), "cl-2", "m-2", 5)
    entries += budget.release(news("d-1", 50), 25)
    assert [e.kind for e in entries] == ["fund", "reserve", "pay", "pay", "release"]
    assert (budget.available, budget.reserved) == (75, 0)
    assert sums(entries) == (75, 0)
    assert budget.drops["d-1"].held == 0


def test_a_drop_the_budget_cannot_cover_is_refused_and_never_paid() -> None:
    budget, _ = funded(30)
    assert budget.open(news("d-1", 50)) == []
    assert budget.refused("d-1")
    assert budget.pay(news("d-1", 50), "cl-1", "m-1", 10) == []
    assert budget.release(news("d-1", 50), 40) == []
    assert (budget.available, budget.reserved) == (30, 0)
    # Funding later does not revive it: the decision was made when it was first heard of.
    budget.fund("fund:more", 100, T0, actor_id="op-1", reason="late")
    assert budget.pay(news("d-1", 50), "cl-2", "m-2", 10) == []


def test_a_claim_heard_before_its_drop_reserves_the_whole_total_first() -> None:
    budget, _ = funded(100)
    paid = budget.pay(news("d-1", 40), "cl-1", "m-1", 15)
    assert [e.kind for e in paid] == ["reserve", "pay"]
    assert budget.open(news("d-1", 40)) == []  # drop.created, late: already reserved
    assert (budget.available, budget.reserved) == (60, 25)


def test_a_share_beyond_what_the_drop_holds_is_not_paid() -> None:
    budget, _ = funded(100)
    budget.open(news("d-1", 10))
    assert [e.kind for e in budget.pay(news("d-1", 10), "cl-1", "m-1", 8)] == ["pay"]
    assert budget.pay(news("d-1", 10), "cl-2", "m-2", 3) == []
    assert budget.release(news("d-1", 10), 99)[0].available_delta == 2  # only what it holds


@dataclass(frozen=True)
class Drop:
    drop_id: str
    shares: tuple[int, ...]
    claimed: int  # how many shares were claimed before the expiry

    @property
    def total(self) -> int:
        return sum(self.shares)

    def events(self) -> list[tuple[str, str, int]]:
        """(kind, id, points): created, the claims, the expiry with what is left."""
        claims = [("claim", f"{self.drop_id}:{i}", p) for i, p in enumerate(self.shares)]
        back = sum(self.shares[self.claimed :])
        return [("created", self.drop_id, self.total), *claims[: self.claimed]] + (
            [("expired", self.drop_id, back)] if back else []
        )


@st.composite
def drops(draw: st.DrawFn) -> list[Drop]:
    found = []
    for i in range(draw(st.integers(1, 5))):
        shares = tuple(draw(st.lists(st.integers(1, 40), min_size=1, max_size=6)))
        found.append(Drop(f"d-{i}", shares, draw(st.integers(0, len(shares)))))
    return found


@settings(max_examples=200, deadline=None)
@given(
    funding=st.lists(st.integers(1, 120), min_size=0, max_size=3),
    made=drops(),
    data=st.data(),
)
def test_any_order_never_pays_more_than_a_drop_or_the_budget_holds(
    funding: list[int], made: list[Drop], data: st.DataObject
) -> None:
    budget, entries = Budget(), []
    for i, points in enumerate(funding):
        entries += budget.fund(f"fund:{i}", points, T0, actor_id="op-1", reason="r")
    by_id = {drop.drop_id: drop for drop in made}
    happened = [(drop.drop_id, e) for drop in made for e in drop.events()]
    order = data.draw(st.permutations(happened))  # partitions deliver in any order
    paid_to: dict[str, int] = {}
    for drop_id, (kind, ident, points) in order:
        heard = news(drop_id, by_id[drop_id].total)
        if kind == "created":
            entries += budget.open(heard)
        elif kind == "claim":
            new = budget.pay(heard, ident, "m", points)
            paid_to[drop_id] = paid_to.get(drop_id, 0) + sum(
                -e.reserved_delta for e in new if e.kind is EntryKind.PAY
            )
            entries += new
        else:
            entries += budget.release(heard, points)
        budget.check()
    assert sums(entries) == (budget.available, budget.reserved)
    assert budget.reserved == sum(hold.held for hold in budget.drops.values())
    paid = sum(paid_to.values())
    assert budget.available + budget.reserved + paid == sum(funding)  # nothing made up
    for drop in made:
        hold = budget.drops[drop.drop_id]
        claimed = sum(drop.shares[: drop.claimed])
        if hold.state is DropState.RESERVED:  # every claim paid, the rest released
            assert paid_to.get(drop.drop_id, 0) == claimed
            assert hold.held == 0
        else:
            assert paid_to.get(drop.drop_id, 0) == 0
