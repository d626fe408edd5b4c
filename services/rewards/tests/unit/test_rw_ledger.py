"""The ledger's rules by example, then a stateful property test of its invariants."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from rewards.points.domain import (
    Allocation,
    Credit,
    Entry,
    EntryKind,
    InsufficientPoints,
    LedgerError,
    LotState,
    Wallet,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
MIN_LIFE = timedelta(days=30)


def credit(
    lot: str, points: int, *, at: datetime = T0, pending_days: int = 0, **kw: object
) -> Credit:
    return Credit(
        key=f"earn:{lot}",
        lot_id=lot,
        points=points,
        at=at,
        available_at=at + timedelta(days=pending_days),
        **kw,  # type: ignore[arg-type]
    )


def test_credit_is_available_at_once_or_pending_until_due() -> None:
    wallet = Wallet()
    wallet.credit(credit("a", 10))
    wallet.credit(credit("b", 5, pending_days=3))
    assert (wallet.available, wallet.pending, wallet.lifetime) == (10, 5, 15)
    assert wallet.release("b", T0 + timedelta(days=1)) == []  # not yet due
    [entry] = wallet.release("b", T0 + timedelta(days=3))
    assert (entry.kind, entry.available_delta, entry.pending_delta) == (EntryKind.RELEASE, 5, -5)
    assert (wallet.available, wallet.pending) == (15, 0)
    assert wallet.release("b", T0 + timedelta(days=4)) == []  # once
    wallet.check()


def test_spend_takes_the_soonest_expiring_lot_first_and_never_overdraws() -> None:
    wallet = Wallet()
    wallet.credit(credit("late", 10, expires_at=T0 + timedelta(days=90)))
    wallet.credit(credit("never", 10))
    wallet.credit(credit("soon", 10, expires_at=T0 + timedelta(days=30)))
    wallet.debit("spend-1", 15, T0)
    assert wallet.lots["soon"].remaining == 0
    assert wallet.lots["late"].remaining == 5
    assert wallet.lots["never"].remaining == 10
    with pytest.raises(InsufficientPoints):
        wallet.debit("spend-2", 16, T0)
    assert wallet.available == 15  # a refused debit changes nothing
    wallet.check()


def test_pending_points_cannot_be_spent() -> None:
    wallet = Wallet()
    wallet.credit(credit("a", 10, pending_days=7))
    with pytest.raises(InsufficientPoints):
        wallet.debit("spend", 1, T0)


def test_expiry_takes_what_is_left_of_a_due_lot() -> None:
    wallet = Wallet()
    wallet.credit(credit("a", 10, expires_at=T0 + timedelta(days=30)))
    wallet.debit("spend", 4, T0)
    assert wallet.expire("a", T0 + timedelta(days=29)) == []
    [entry] = wallet.expire("a", T0 + timedelta(days=30))
    assert (entry.kind, entry.available_delta, entry.key) == (EntryKind.EXPIRE, -6, "expire:a")
    assert wallet.available == 0 and wallet.lifetime == 10  # expiry keeps the level
    assert wallet.expire("a", T0 + timedelta(days=31)) == []
    wallet.check()


def test_reversing_a_pending_lot_removes_it_and_the_lifetime_points() -> None:
    wallet = Wallet()
    wallet.credit(credit("a", 10, pending_days=3, cause="membership_id=m-1"))
    [entry] = wallet.reverse("a", T0)
    assert (entry.pending_delta, entry.lifetime_delta, entry.debt_delta) == (-10, -10, 0)
    assert (wallet.pending, wallet.lifetime, wallet.lots["a"].state) == (0, 0, LotState.REVERSED)
    assert wallet.reverse("a", T0) == []  # once
    assert wallet.release("a", T0 + timedelta(days=3)) == []  # a reversed lot never releases
    wallet.check()


def test_spent_points_are_clawed_back_from_other_points_then_owed() -> None:
    wallet = Wallet()
    wallet.credit(credit("bonus", 10))
    wallet.credit(credit("other", 4))
    wallet.debit("spend", 12, T0)  # bonus fully spent, 2 of "other" too
    [entry] = wallet.reverse("bonus", T0, reason="refund")
    # 10 were spent from the bonus: 2 left in "other" are clawed back, 8 become debt.
    assert (entry.available_delta, entry.debt_delta, entry.lifetime_delta) == (-2, 8, -10)
    assert (wallet.available, wallet.debt, wallet.lifetime) == (0, 8, 4)
    wallet.check()


def test_debt_is_paid_first_by_points_that_become_available() -> None:
    wallet = Wallet()
    wallet.credit(credit("bonus", 10))
    wallet.debit("spend", 10, T0)
    wallet.reverse("bonus", T0)
    assert wallet.debt == 10
    earn, settle = wallet.credit(credit("next", 6))
    assert (earn.kind, earn.available_delta) == (EntryKind.EARN, 6)
    assert (settle.kind, settle.available_delta, settle.debt_delta) == (EntryKind.SETTLE, -6, -6)
    assert (wallet.available, wallet.debt) == (0, 4)
    wallet.credit(credit("pending", 7, pending_days=2))
    assert wallet.debt == 4  # pending points do not pay until released
    wallet.release("pending", T0 + timedelta(days=2))
    assert (wallet.available, wallet.debt) == (3, 0)
    wallet.check()


def test_expired_points_are_not_owed_after_a_reversal() -> None:
    wallet = Wallet()
    wallet.credit(credit("a", 10, expires_at=T0 + timedelta(days=1)))
    wallet.expire("a", T0 + timedelta(days=1))
    [entry] = wallet.reverse("a", T0 + timedelta(days=2))
    assert (entry.debt_delta, entry.available_delta) == (0, 0)
    assert wallet.debt == 0


def test_bad_operations_are_refused() -> None:
    wallet = Wallet()
    with pytest.raises(LedgerError):
        wallet.credit(credit("a", 0))
    wallet.credit(credit("a", 1))
    with pytest.raises(LedgerError):
        wallet.credit(credit("a", 1))  # the same lot twice
    with pytest.raises(LedgerError):
        wallet.debit("d", 0, T0)
    with pytest.raises(LedgerError):
        wallet.release("missing", T0)


def test_a_debit_says_which_lots_it_took_from() -> None:
    wallet = Wallet()
    wallet.credit(credit("late", 10, expires_at=T0 + timedelta(days=90)))
    wallet.credit(credit("soon", 4, expires_at=T0 + timedelta(days=30)))
    [entry] = wallet.debit("spend", 12, T0)
    assert entry.allocations == (
        Allocation("soon", 4, T0 + timedelta(days=30)),
        Allocation("late", 8, T0 + timedelta(days=90)),
    )


def test_restore_gives_points_back_with_their_expiry_but_not_to_lifetime() -> None:
    wallet = Wallet()
    wallet.credit(credit("late", 10, expires_at=T0 + timedelta(days=90)))
    wallet.credit(credit("soon", 4, expires_at=T0 + timedelta(days=31)))
    [spend] = wallet.debit("spend", 12, T0)
    later = T0 + timedelta(days=5)
    [entry] = wallet.restore("restore:r", spend.allocations, ["r1", "r2"], later, min_life=MIN_LIFE)
    assert (entry.kind, entry.available_delta, entry.lifetime_delta) == (EntryKind.RESTORE, 12, 0)
    assert (wallet.available, wallet.lifetime) == (14, 14)
    # "soon" had 26 days left: restored points get at least 30; "late" keeps its date.
    assert wallet.lots["r1"].expires_at == later + MIN_LIFE
    assert wallet.lots["r2"].expires_at == T0 + timedelta(days=90)
    assert wallet.lots["r1"].cause is None  # reversing the source cannot take them twice
    wallet.check()


def test_restore_pays_a_debt_left_by_reversing_the_spent_lot() -> None:
    wallet = Wallet()
    wallet.credit(credit("bonus", 10, cause="membership_id=m-1"))
    [spend] = wallet.debit("spend", 10, T0)
    wallet.reverse("bonus", T0)  # refunded after the points were spent: debt 10
    assert wallet.debt == 10
    restore, settle = wallet.restore("restore:r", spend.allocations, ["r1"], T0, min_life=MIN_LIFE)
    assert (restore.available_delta, settle.kind, settle.debt_delta) == (10, EntryKind.SETTLE, -10)
    assert (wallet.available, wallet.debt, wallet.lifetime) == (0, 0, 0)
    wallet.check()


def test_restore_refuses_nonsense() -> None:
    wallet = Wallet()
    wallet.credit(credit("a", 10))
    [spend] = wallet.debit("spend", 5, T0)
    with pytest.raises(LedgerError):
        wallet.restore("k", spend.allocations, [], T0, min_life=MIN_LIFE)
    with pytest.raises(LedgerError):
        wallet.restore("k", spend.allocations, ["a"], T0, min_life=MIN_LIFE)  # existing lot


# ------------------------------------------------------------------ stateful


class Journal:
    """The entries table: append-only, unique keys (a duplicate is refused, as the DB does)."""

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}

    def seen(self, key: str) -> bool:
        return key in self.entries

    def add(self, entries: list[Entry]) -> None:
        for entry in entries:
            assert entry.key not in self.entries, f"duplicate entry {entry.key}"
            self.entries[entry.key] = entry


class LedgerMachine(RuleBasedStateMachine):
    """Credits, spends, releases, expiries, reversals, redeliveries and crashes in any order."""

    def __init__(self) -> None:
        super().__init__()
        self.wallet = Wallet()
        self.journal = Journal()
        self.now = T0
        self.delivered: list[Credit] = []
        self.lot_ids: list[str] = []
        self.redeemed: list[Entry] = []  # spends not cancelled yet
        self.restored_lots: list[str] = []  # no cause: never reversed

    def _credit_once(self, item: Credit) -> None:
        # What the consumer does: an entry key already written means "already applied".
        if not self.journal.seen(item.key):
            self.journal.add(self.wallet.credit(item))

    @rule(
        points=st.integers(1, 50),
        pending_days=st.integers(0, 5),
        expires_in=st.none() | st.integers(1, 20),
    )
    def earn(self, points: int, pending_days: int, expires_in: int | None) -> None:
        lot = f"lot-{len(self.delivered)}"
        expires = self.now + timedelta(days=expires_in) if expires_in else None
        item = credit(lot, points, at=self.now, pending_days=pending_days, expires_at=expires)
        self.delivered.append(item)
        self.lot_ids.append(lot)
        self._credit_once(item)

    @precondition(lambda self: self.delivered)
    @rule(data=st.data())
    def redeliver(self, data: st.DataObject) -> None:
        before = copy.deepcopy(self.wallet)
        self._credit_once(data.draw(st.sampled_from(self.delivered)))
        assert (self.wallet.available, self.wallet.pending) == (before.available, before.pending)

    @rule(points=st.integers(1, 80))
    def spend(self, points: int) -> None:
        key = f"spend-{len(self.journal.entries)}"
        if points > self.wallet.available:
            with pytest.raises(InsufficientPoints):
                self.wallet.debit(key, points, self.now)
        else:
            self.journal.add(self.wallet.debit(key, points, self.now))

    @rule(points=st.integers(1, 40))
    def redeem(self, points: int) -> None:
        if points <= self.wallet.available:
            [spend] = self.wallet.debit(f"redeem-{len(self.journal.entries)}", points, self.now)
            assert sum(a.points for a in spend.allocations) == points
            self.journal.add([spend])
            self.redeemed.append(spend)

    @precondition(lambda self: self.redeemed)
    @rule(data=st.data())
    def cancel_redemption(self, data: st.DataObject) -> None:
        spend = self.redeemed.pop(data.draw(st.integers(0, len(self.redeemed) - 1)))
        lot_ids = [f"{spend.key}:{i}" for i in range(len(spend.allocations))]
        net, lifetime = self.wallet.available - self.wallet.debt, self.wallet.lifetime
        self.journal.add(
            self.wallet.restore(
                f"restore:{spend.key}", spend.allocations, lot_ids, self.now, min_life=MIN_LIFE
            )
        )
        self.restored_lots += lot_ids
        # Every point comes back (paying any debt first); lifetime points do not move.
        assert self.wallet.available - self.wallet.debt == net - spend.available_delta
        assert self.wallet.lifetime == lifetime

    @rule(days=st.integers(1, 6))
    def time_passes(self, days: int) -> None:
        # What the timers do: release due lots, expire due ones.
        self.now += timedelta(days=days)
        for lot_id in self.lot_ids + self.restored_lots:  # restored lots expire too
            self.journal.add(self.wallet.release(lot_id, self.now))
            self.journal.add(self.wallet.expire(lot_id, self.now))

    @precondition(lambda self: self.lot_ids)
    @rule(data=st.data())
    def reverse(self, data: st.DataObject) -> None:
        lot_id = data.draw(st.sampled_from(self.lot_ids))
        self.journal.add(self.wallet.reverse(lot_id, self.now))
        self.journal.add(self.wallet.reverse(lot_id, self.now))  # a second refund: nothing

    @rule(points=st.integers(1, 30))
    def crash_mid_operation(self, points: int) -> None:
        # A transaction that dies before commit leaves the stored wallet as it was.
        doomed = copy.deepcopy(self.wallet)
        doomed.credit(credit("doomed", points, at=self.now))

    @invariant()
    def balances_are_the_sum_of_entries(self) -> None:
        entries = self.journal.entries.values()
        assert self.wallet.available == sum(e.available_delta for e in entries)
        assert self.wallet.pending == sum(e.pending_delta for e in entries)
        assert self.wallet.lifetime == sum(e.lifetime_delta for e in entries)
        assert self.wallet.debt == sum(e.debt_delta for e in entries)

    @invariant()
    def balances_agree_with_lots_and_are_never_negative(self) -> None:
        self.wallet.check()

    @invariant()
    def debt_only_while_nothing_is_available(self) -> None:
        # Available points always pay the debt; both positive would mean a missed settlement.
        assert self.wallet.debt == 0 or self.wallet.available == 0


LedgerMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)
TestLedgerMachine = LedgerMachine.TestCase
