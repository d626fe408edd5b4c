"""A trial's join points: held until paid, pending through the payment's refund window,
reversed when the trial ends unpaid; every reversal names the entry it undoes. The rules
as pure functions, then a property: any order and any redelivery of a membership's
events ends where the order they happened in ends."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from rewards.points.domain import (
    FORFEITED,
    Credit,
    EntryKind,
    LotState,
    MembershipOutcome,
    Settle,
    Wallet,
    landing,
    settle_held,
)
from rewards.rules.sources import (
    MEMBERSHIP_ACTIVATED,
    MEMBERSHIP_REFUNDED,
    default_rules,
    forfeits,
    membership_of,
    paid_trial_window,
    starts_trial,
)

T0 = datetime(2026, 11, 21, 8, tzinfo=UTC)
PAID_AT = T0 + timedelta(days=3)
WINDOW = PAID_AT + timedelta(hours=72)
EXPIRED = "quanzi.onboarding.membership.expired.v1"
LEFT = "quanzi.onboarding.membership.left.v1"


def held(lot: str = "l-1", points: int = 10) -> Credit:
    return Credit(key=f"earn:{lot}", lot_id=lot, points=points, at=T0, available_at=None)


# ------------------------------------------------------------------ the wallet


def test_a_held_credit_is_pending_with_no_release_time() -> None:
    wallet = Wallet()
    [entry] = wallet.credit(held())
    assert (entry.pending_delta, entry.available_delta, entry.lifetime_delta) == (10, 0, 10)
    lot = wallet.lots["l-1"]
    assert lot.held and lot.state is LotState.PENDING and lot.available_at is None
    assert wallet.release("l-1", T0 + timedelta(days=3650)) == []  # no time ever releases it
    assert wallet.pending == 10
    wallet.check()


def test_unhold_sets_the_release_time_and_releases_once_due() -> None:
    wallet = Wallet()
    wallet.credit(held())
    assert wallet.unhold("l-1", WINDOW, PAID_AT) == []  # the window is still open
    assert wallet.lots["l-1"].available_at == WINDOW and not wallet.lots["l-1"].held
    assert wallet.unhold("l-1", WINDOW + timedelta(days=1), PAID_AT) == []  # not held: no-op
    assert wallet.lots["l-1"].available_at == WINDOW
    [released] = wallet.release("l-1", WINDOW)
    assert released.kind is EntryKind.RELEASE and wallet.available == 10
    wallet.check()


def test_unhold_after_the_window_releases_at_once() -> None:
    wallet = Wallet()
    wallet.credit(held())
    [released] = wallet.unhold("l-1", WINDOW, WINDOW + timedelta(hours=1))
    assert released.kind is EntryKind.RELEASE
    assert (wallet.available, wallet.pending) == (10, 0)


def test_a_reversal_names_the_entry_it_reverses() -> None:
    wallet = Wallet()
    wallet.credit(held())
    [entry] = wallet.reverse("l-1", T0, "trial ended unpaid", reverses=(41, "earn:l-1"))
    assert entry.kind is EntryKind.REVERSE
    assert (entry.reverses_entry_id, entry.reverses_entry_key) == (41, "earn:l-1")
    assert (entry.pending_delta, entry.lifetime_delta) == (-10, -10)
    assert wallet.reverse("l-1", T0, reverses=(41, "earn:l-1")) == []  # once
    wallet.check()


# -------------------------------------------------------------- reading events


def activation(**data: Any) -> dict[str, Any]:
    return {"membership_id": "m-1", "member_id": "a", "tier": "core", **data}


def test_what_the_membership_events_say() -> None:
    trial = activation(tier="trial", trial_ends_at=(T0 + timedelta(days=7)).isoformat())
    assert starts_trial(MEMBERSHIP_ACTIVATED, trial)
    assert starts_trial(MEMBERSHIP_ACTIVATED, activation(tier="trial"))  # older events
    assert not starts_trial(MEMBERSHIP_ACTIVATED, activation(refund_window_ends_at=None))
    paid = activation(previous_tier="trial", refund_window_ends_at=WINDOW.isoformat())
    assert paid_trial_window(MEMBERSHIP_ACTIVATED, paid) == WINDOW
    assert paid_trial_window(MEMBERSHIP_ACTIVATED, activation(previous_tier=None)) is None
    assert forfeits(MEMBERSHIP_REFUNDED, {})
    assert forfeits(EXPIRED, {"tier": "trial"}) and forfeits(LEFT, {"tier": "trial"})
    assert not forfeits(EXPIRED, {"tier": "core"})  # a paid term ending keeps its points
    assert not forfeits(LEFT, {})  # published before ends carried their tier
    join_bonus, referral, check_in, *_ = default_rules()
    assert membership_of(join_bonus, trial) == "m-1" == membership_of(referral, trial)
    assert membership_of(check_in, trial) is None


def test_landing_of_points_tied_to_a_membership() -> None:
    nothing, paid = MembershipOutcome(), MembershipOutcome(paid_window_ends_at=WINDOW)
    lost = MembershipOutcome(forfeited=True)
    assert landing(nothing, trial=True, available_at=T0) is None  # held
    assert landing(paid, trial=True, available_at=T0) == WINDOW  # paid before it arrived
    assert landing(nothing, trial=False, available_at=WINDOW) == WINDOW  # as the rule says
    assert landing(lost, trial=True, available_at=T0) is FORFEITED
    assert landing(lost, trial=False, available_at=WINDOW) is FORFEITED


def test_settle_held_lots() -> None:
    wallet = Wallet()
    wallet.credit(held("h"))
    wallet.credit(Credit(key="k", lot_id="p", points=5, at=T0, available_at=WINDOW))
    paid, lost = MembershipOutcome(paid_window_ends_at=WINDOW), MembershipOutcome(forfeited=True)
    assert settle_held(wallet.lots["h"], paid) is Settle.UNHOLD
    assert settle_held(wallet.lots["p"], paid) is Settle.KEEP  # already has its time
    assert settle_held(wallet.lots["h"], MembershipOutcome()) is Settle.KEEP
    assert settle_held(wallet.lots["p"], lost) is Settle.REVERSE
    wallet.reverse("p", T0)
    assert settle_held(wallet.lots["p"], lost) is Settle.KEEP  # reversed once


@given(st.lists(st.builds(MembershipOutcome, st.booleans(), st.sampled_from([None, T0, WINDOW]))))
def test_outcomes_merge_in_any_order(outcomes: list[MembershipOutcome]) -> None:
    forward = MembershipOutcome()
    for outcome in outcomes:
        forward = forward.merge(outcome).merge(outcome)  # redelivered: no change
    backward = MembershipOutcome()
    for outcome in reversed(outcomes):
        backward = backward.merge(outcome)
    assert forward == backward


# ------------------------------------------- any order of a membership's events


@dataclass(frozen=True)
class News:
    """One membership event as rewards reads it."""

    name: str
    trial: bool = False  # an activation starting the trial
    paid_window: datetime | None = None  # an activation by which the trial was paid
    window: datetime | None = None  # the activation's own refund window
    forfeits: bool = False


TRIAL = News("trial activated", trial=True)
PAID = News("trial paid", paid_window=WINDOW, window=WINDOW)
ENDED_UNPAID = News("trial expired", forfeits=True)
REFUND = News("refunded", forfeits=True)
PAID_LATER = News("paid after the trial ended", window=WINDOW + timedelta(days=30))

# Histories as they happen to one membership (a trial is used once per membership).
HISTORIES = [
    [TRIAL],
    [TRIAL, PAID],
    [TRIAL, ENDED_UNPAID],
    [TRIAL, PAID, REFUND],
    [TRIAL, ENDED_UNPAID, PAID_LATER],
]


@dataclass
class Consumer:
    """What the rewards consumer does with each event, in the domain's terms: the join
    bonus (key once per membership), the facts stored, the lots settled."""

    wallet: Wallet = field(default_factory=Wallet)
    known: MembershipOutcome = field(default_factory=MembershipOutcome)
    keys: set[str] = field(default_factory=set)

    def apply(self, news: News) -> None:
        if news.trial or news.window is not None:  # an activation: the rule's credit
            ruled = news.window or T0
            lands = landing(self.known, trial=news.trial, available_at=ruled)
            if "join" not in self.keys and lands is not FORFEITED:
                self.keys.add("join")
                self.wallet.credit(
                    Credit(key="join", lot_id="join", points=10, at=T0, available_at=lands)
                )
        if news.paid_window is not None or news.forfeits:
            self.known = self.known.merge(MembershipOutcome(news.forfeits, news.paid_window))
            for lot in list(self.wallet.lots.values()):
                action = settle_held(lot, self.known)
                if action is Settle.REVERSE:
                    self.wallet.reverse(lot.id, PAID_AT)
                elif action is Settle.UNHOLD and self.known.paid_window_ends_at:
                    self.wallet.unhold(lot.id, self.known.paid_window_ends_at, PAID_AT)

    def result(self) -> tuple[Any, ...]:
        self.wallet.check()
        lots = sorted(
            (lot.state, lot.available_at, lot.remaining) for lot in self.wallet.open_lots()
        )
        return self.wallet.available, self.wallet.pending, self.wallet.lifetime, lots


def consumed(events: list[News]) -> tuple[Any, ...]:
    consumer = Consumer()
    for news in events:
        consumer.apply(news)
    return consumer.result()


@settings(max_examples=300)
@given(st.data())
def test_any_order_and_redelivery_end_as_the_history_did(data: st.DataObject) -> None:
    history = data.draw(st.sampled_from(HISTORIES))
    redelivered = data.draw(st.lists(st.sampled_from(history), max_size=4))
    delivered = data.draw(st.permutations(history + redelivered))
    assert consumed(delivered) == consumed(history)


def test_the_histories_end_as_the_policy_says() -> None:
    held_lot = [(LotState.PENDING, None, 10)]
    assert consumed([TRIAL]) == (0, 10, 10, held_lot)
    assert consumed([TRIAL, PAID]) == (0, 10, 10, [(LotState.PENDING, WINDOW, 10)])
    assert consumed([TRIAL, ENDED_UNPAID]) == (0, 0, 0, [])
    assert consumed([TRIAL, PAID, REFUND]) == (0, 0, 0, [])
    assert consumed([TRIAL, ENDED_UNPAID, PAID_LATER]) == (0, 0, 0, [])
