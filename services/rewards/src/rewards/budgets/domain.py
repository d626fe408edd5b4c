"""The operator's points budget: where the points of point drops (红包) come from.

One budget per tenant: the tenant is the operator who pays, and a drop's community is
recorded on its entries for the reports. Pure: every change goes through an operation of
``Budget``, which mutates it and returns the append-only entries that explain the change.
Each entry carries its deltas to the two balances, so "balance = sum of entries" holds
and is checkable at any time (``check``).

- **available**: what operators funded and no drop holds; never below zero.
- **reserved**: what open drops hold for their claims; never below zero.
- **A drop reserves its whole total** the first time rewards hears of it (its
  ``drop.created``, or a claim or its expiry if those arrive first: activities keys
  them on other partitions). A budget that cannot cover the total refuses the drop:
  nothing is reserved, none of its claims is paid, and rewards says so
  (``budget.drop_refused``). So no drop ever pays more than its total, and the budget
  never pays more than was funded.
- **A claim** moves its share from the drop's reservation to the member; **the expiry**
  gives what is left (``returned_points``) back to ``available``. Both are bounded by
  what the drop still holds, whatever the order they arrive in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

MAX_FUNDING = 100_000_000


class EntryKind(StrEnum):
    FUND = "fund"  # an operator added points
    WITHDRAW = "withdraw"  # an operator took unreserved points out
    RESERVE = "reserve"  # a drop's total put aside
    PAY = "pay"  # a claimed share paid to its member
    RELEASE = "release"  # what an expired drop did not hand out, back to available


class DropState(StrEnum):
    RESERVED = "reserved"
    REFUSED = "refused"  # the budget could not cover it: its claims are not paid


class BudgetError(ValueError):
    """An operation the budget refuses; nothing was changed."""


class InsufficientBudget(BudgetError):
    def __init__(self, wanted: int, available: int) -> None:
        super().__init__(f"{wanted} points wanted, {available} available")
        self.wanted = wanted
        self.available = available


@dataclass(frozen=True)
class Entry:
    key: str  # unique per tenant: a redelivered cause produces the same key
    kind: EntryKind
    at: datetime
    available_delta: int = 0
    reserved_delta: int = 0
    drop_id: str | None = None
    member_id: str | None = None  # a payment's claimer
    community_id: str | None = None
    actor_id: str | None = None  # a funding's operator
    reason: str | None = None


@dataclass
class DropHold:
    """What the budget knows of one drop."""

    drop_id: str
    total: int
    state: DropState
    paid: int = 0
    released: int = 0
    community_id: str | None = None

    @property
    def held(self) -> int:
        return self.total - self.paid - self.released if self.state is DropState.RESERVED else 0


@dataclass(frozen=True)
class DropNews:
    """Any event of a drop: enough to open its reservation if it is the first one seen."""

    drop_id: str
    total: int
    at: datetime
    community_id: str | None = None


@dataclass
class Budget:
    available: int = 0
    reserved: int = 0
    drops: dict[str, DropHold] = field(default_factory=dict)  # the ones loaded

    # ------------------------------------------------------------ operators

    def fund(
        self, key: str, points: int, at: datetime, *, actor_id: str, reason: str
    ) -> list[Entry]:
        """Positive: funding; negative: a withdrawal of unreserved points."""
        if points == 0 or abs(points) > MAX_FUNDING:
            raise BudgetError(f"a funding is 1..{MAX_FUNDING} points, either way")
        if -points > self.available:
            raise InsufficientBudget(-points, self.available)
        kind = EntryKind.FUND if points > 0 else EntryKind.WITHDRAW
        entry = Entry(key, kind, at, available_delta=points, actor_id=actor_id, reason=reason)
        return self._apply(entry)

    # ---------------------------------------------------------------- drops

    def open(self, news: DropNews) -> list[Entry]:
        """Reserve the drop's total, or refuse the drop; a no-op for a drop already seen."""
        if news.drop_id in self.drops:
            return []
        if news.total <= 0:
            raise BudgetError("a drop's total is positive")
        if news.total > self.available:
            self.drops[news.drop_id] = DropHold(
                news.drop_id, news.total, DropState.REFUSED, community_id=news.community_id
            )
            return []
        self.drops[news.drop_id] = DropHold(
            news.drop_id, news.total, DropState.RESERVED, community_id=news.community_id
        )
        entry = Entry(
            f"reserve:{news.drop_id}",
            EntryKind.RESERVE,
            news.at,
            available_delta=-news.total,
            reserved_delta=news.total,
            drop_id=news.drop_id,
            community_id=news.community_id,
        )
        return self._apply(entry)

    def pay(self, news: DropNews, claim_id: str, member_id: str, points: int) -> list[Entry]:
        """A claimed share, from the drop's reservation. Nothing when the drop was refused
        or (activities never does this) the share exceeds what the drop still holds: the
        member is credited only what an entry here pays."""
        opened = self.open(news)
        hold = self.drops[news.drop_id]
        if points <= 0 or points > hold.held:
            return opened
        hold.paid += points
        entry = Entry(
            f"pay:{claim_id}",
            EntryKind.PAY,
            news.at,
            reserved_delta=-points,
            drop_id=hold.drop_id,
            member_id=member_id,
            community_id=hold.community_id,
        )
        return opened + self._apply(entry)

    def release(self, news: DropNews, points: int) -> list[Entry]:
        """The expired drop's unclaimed points back to ``available`` (no more than it holds)."""
        opened = self.open(news)
        hold = self.drops[news.drop_id]
        back = min(points, hold.held)
        if back <= 0:
            return opened
        hold.released += back
        entry = Entry(
            f"release:{news.drop_id}",
            EntryKind.RELEASE,
            news.at,
            available_delta=back,
            reserved_delta=-back,
            drop_id=hold.drop_id,
            community_id=hold.community_id,
        )
        return opened + self._apply(entry)

    def refused(self, drop_id: str) -> bool:
        hold = self.drops.get(drop_id)
        return hold is not None and hold.state is DropState.REFUSED

    # --------------------------------------------------------------- checks

    def check(self) -> None:
        """Raise AssertionError unless the balances agree with the drops' reservations."""
        assert self.available >= 0 and self.reserved >= 0, self
        for hold in self.drops.values():
            assert 0 <= hold.held <= hold.total, hold
            if hold.state is DropState.REFUSED:
                assert hold.paid == hold.released == 0, hold

    def _apply(self, entry: Entry) -> list[Entry]:
        self.available += entry.available_delta
        self.reserved += entry.reserved_delta
        return [entry]
