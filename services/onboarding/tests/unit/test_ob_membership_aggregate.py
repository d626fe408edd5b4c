"""The Membership aggregate (domain.membership): rules by example, then property tests that
drive random command sequences and check them against the state machine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onboarding.membership import domain as agg
from onboarding.membership.states import INITIAL, SEATED, Status, can_transition
from onboarding.payments.domain import PaidTerms, TermKind

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
PAID = PaidTerms(999, "CNY", TermKind.ROLLING, term_days=30, trial_days=7, refund_window_hours=72)
PAID_NO_TRIAL = PaidTerms(999, "CNY", TermKind.ROLLING, term_days=30, refund_window_hours=72)


def test_free_community_activates_a_new_member() -> None:
    change = agg.enter(agg.NEW, None, T0)
    assert change.outcome == agg.Outcome.ARRIVED
    assert change.after.status == Status.ACTIVE and change.after.tier == agg.TIER_CORE
    assert change.after.term_ends_at is None and change.after.activated_at == T0


def test_paid_community_starts_the_trial_once_then_awaits_payment() -> None:
    trial = agg.enter(agg.NEW, PAID, T0).after
    assert (trial.status, trial.tier, trial.trial_used) == (Status.TRIAL, agg.TIER_TRIAL, True)
    assert trial.term_ends_at == T0 + timedelta(days=7)
    left = agg.leave(trial).after
    again = agg.enter(left, PAID, T0 + timedelta(days=1))
    assert again.outcome == agg.Outcome.AWAITING_PAYMENT
    assert again.after.status == Status.PENDING_PAYMENT


def test_payment_activates_a_trial_as_an_upgrade_and_renews_from_the_current_end() -> None:
    trial = agg.enter(agg.NEW, PAID, T0).after
    paid = agg.pay(trial, PAID, T0 + timedelta(days=2))
    assert paid.outcome == agg.Outcome.UPGRADED  # same seat: no new welcome
    assert paid.after.status == Status.ACTIVE and paid.after.tier == agg.TIER_CORE
    end = paid.after.term_ends_at
    assert end == T0 + timedelta(days=32)
    renewed = agg.pay(paid.after, PAID, T0 + timedelta(days=10))
    assert renewed.outcome == agg.Outcome.RENEWED
    assert renewed.after.term_ends_at == end + timedelta(days=30)


def test_refund_only_inside_the_window() -> None:
    paid = agg.pay(agg.enter(agg.NEW, PAID_NO_TRIAL, T0).after, PAID_NO_TRIAL, T0)
    window = paid.period.refund_window_ends_at if paid.period else None
    assert agg.refund(paid.after, window, T0 + timedelta(hours=71)).after.status == Status.REFUNDED
    with pytest.raises(agg.Refused) as refused:
        agg.refund(paid.after, window, T0 + timedelta(hours=72))  # the end is outside
    assert refused.value.slug == "refund-window-closed"


def test_expiry_ignores_a_timer_armed_before_a_renewal() -> None:
    paid = agg.pay(agg.enter(agg.NEW, PAID_NO_TRIAL, T0).after, PAID_NO_TRIAL, T0).after
    first_end = paid.term_ends_at
    assert first_end is not None
    renewed = agg.pay(paid, PAID_NO_TRIAL, T0 + timedelta(days=1)).after
    assert agg.expire(renewed, first_end).outcome == agg.Outcome.UNCHANGED
    assert renewed.term_ends_at is not None
    assert agg.expire(renewed, renewed.term_ends_at).after.status == Status.EXPIRED


def test_banned_members_are_refused_and_pending_applications_cannot_pay() -> None:
    with pytest.raises(agg.Refused) as banned:
        agg.may_start(agg.Membership(status=Status.BANNED))
    assert banned.value.status == 403
    with pytest.raises(agg.Refused) as pending:
        agg.pay(agg.Membership(status=Status.PENDING_APPLICATION), PAID, T0)
    assert pending.value.slug == "cannot-activate"


# ---------------------------------------------------------------- properties

COMMANDS = st.sampled_from(["enter", "pay", "refund", "expire", "leave"])
TERMS = st.sampled_from([None, PAID, PAID_NO_TRIAL])


def _apply(
    state: agg.Membership, command: str, terms: PaidTerms | None, now: datetime, window: datetime
) -> agg.Change:
    if command == "enter":
        if not agg.may_start(state):
            return agg.Change(state, state, agg.Outcome.UNCHANGED)
        return agg.enter(state, terms, now)
    if command == "pay":
        if terms is None:  # the service refuses payments for free communities
            return agg.Change(state, state, agg.Outcome.UNCHANGED)
        return agg.pay(state, terms, now)
    if command == "refund":
        return agg.refund(state, window, now)
    if command == "expire":
        return agg.expire(state, state.term_ends_at or now)
    return agg.leave(state)


@settings(max_examples=300, deadline=None)
@given(
    terms=TERMS,
    steps=st.lists(st.tuples(COMMANDS, st.integers(min_value=0, max_value=24 * 40)), max_size=12),
)
def test_every_change_follows_the_state_machine(
    terms: PaidTerms | None, steps: list[tuple[str, int]]
) -> None:
    state, now, window = agg.NEW, T0, T0
    trial_started = False
    for command, hours in steps:
        now = now + timedelta(hours=hours)
        try:
            change = _apply(state, command, terms, now, window)
        except agg.Refused:
            continue  # a refusal changes nothing
        before, after = change.before, change.after
        assert before == state
        if change.outcome == agg.Outcome.UNCHANGED:
            assert after == before
            continue
        assert after.status is not None
        if before.status is None:
            assert after.status in INITIAL
        elif before.status != after.status:
            assert can_transition(before.status, after.status)
        # Seats: a change frees one exactly when it leaves the seated statuses.
        assert change.frees_seat == (before.seated and after.status not in SEATED)
        # An arrival is from outside the seated statuses into them; an upgrade keeps the seat.
        if change.outcome == agg.Outcome.ARRIVED:
            assert not before.seated and after.seated
        if change.outcome in (agg.Outcome.UPGRADED, agg.Outcome.RENEWED):
            assert before.seated and after.seated
        # A renewal never shortens the term.
        if change.outcome == agg.Outcome.RENEWED:
            assert before.term_ends_at is not None and after.term_ends_at is not None
            assert after.term_ends_at > before.term_ends_at
        # One trial per membership, ever.
        if after.tier == agg.TIER_TRIAL and before.tier != agg.TIER_TRIAL:
            assert not trial_started
            trial_started = True
        if trial_started:
            assert after.trial_used
        if change.period is not None:
            window = change.period.refund_window_ends_at
        state = after
