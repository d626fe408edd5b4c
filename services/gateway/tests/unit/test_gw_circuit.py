"""The circuit breaker per upstream: examples, then properties over random histories."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    rule,
)

from gateway.domain.circuit import CircuitBreaker, State, Ticket


def granted(breaker: CircuitBreaker, now: float) -> Ticket:
    ticket = breaker.acquire(now)
    assert ticket is not None
    return ticket


def test_opens_after_n_consecutive_failures_then_recovers_through_one_trial() -> None:
    breaker = CircuitBreaker(failure_threshold=3, reset_s=10)
    for now in (0, 1):
        breaker.failure(granted(breaker, now), now)
    assert breaker.state(1) is State.CLOSED
    breaker.failure(granted(breaker, 2), 2)

    assert breaker.state(2) is State.OPEN
    assert breaker.acquire(5) is None
    assert breaker.retry_after(5) == 7
    assert breaker.state(12) is State.HALF_OPEN
    trial = granted(breaker, 12)
    assert trial.trial
    assert breaker.acquire(12.5) is None  # one trial at a time
    breaker.success(trial, 13)
    assert breaker.state(13) is State.CLOSED
    assert not granted(breaker, 13).trial


def test_a_success_resets_the_count() -> None:
    breaker = CircuitBreaker(failure_threshold=2, reset_s=1)
    breaker.failure(granted(breaker, 0), 0)
    breaker.success(granted(breaker, 0), 0)
    breaker.failure(granted(breaker, 0), 0)
    assert breaker.state(0) is State.CLOSED


def test_a_failed_trial_opens_for_a_full_reset_again() -> None:
    breaker = CircuitBreaker(failure_threshold=1, reset_s=10)
    breaker.failure(granted(breaker, 0), 0)
    trial = granted(breaker, 10)
    breaker.failure(trial, 11)
    assert breaker.state(20.5) is State.OPEN
    assert breaker.retry_after(20.5) == 1
    assert breaker.state(21) is State.HALF_OPEN


def test_late_answers_from_before_the_circuit_opened_are_ignored() -> None:
    breaker = CircuitBreaker(failure_threshold=1, reset_s=10)
    early = granted(breaker, 0)
    breaker.failure(granted(breaker, 0), 0)
    breaker.success(early, 1)  # in flight when the circuit opened: no proof of recovery
    assert breaker.state(1) is State.OPEN


def test_a_released_trial_lets_the_next_request_try() -> None:
    breaker = CircuitBreaker(failure_threshold=1, reset_s=10)
    breaker.failure(granted(breaker, 0), 0)
    trial = granted(breaker, 10)
    breaker.release(trial)
    assert granted(breaker, 10).trial


def test_a_trial_that_never_reports_back_expires() -> None:
    breaker = CircuitBreaker(failure_threshold=1, reset_s=10)
    breaker.failure(granted(breaker, 0), 0)
    granted(breaker, 10)
    assert breaker.acquire(19) is None
    assert granted(breaker, 20).trial


def test_an_expired_trial_answering_late_frees_no_slot_and_decides_nothing() -> None:
    breaker = CircuitBreaker(failure_threshold=1, reset_s=1)
    breaker.failure(granted(breaker, 0), 0)
    expired = granted(breaker, 1)
    current = granted(breaker, 2)  # the first trial never answered within reset_s
    breaker.release(expired)
    assert breaker.acquire(2) is None  # still one trial at a time
    breaker.success(expired, 2)
    assert breaker.state(2) is State.HALF_OPEN
    breaker.failure(current, 2.5)
    assert breaker.state(2.5) is State.OPEN


def test_retry_after_is_not_thrown_off_by_float_sums() -> None:
    breaker = CircuitBreaker(failure_threshold=1, reset_s=10)
    now = 6.258303506848263
    breaker.failure(granted(breaker, now), now)
    assert breaker.retry_after(now) == 10


@pytest.mark.parametrize(("threshold", "reset"), [(0, 1.0), (1, 0.0), (1, -1.0)])
def test_nonsense_settings_are_refused(threshold: int, reset: float) -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(failure_threshold=threshold, reset_s=reset)


@given(
    threshold=st.integers(1, 10),
    outcomes=st.lists(st.booleans(), max_size=40),
)
def test_closed_opens_exactly_at_n_consecutive_failures(
    threshold: int, outcomes: list[bool]
) -> None:
    """Sequential requests, no time passing: open iff some run of failures reached N."""
    breaker = CircuitBreaker(failure_threshold=threshold, reset_s=1)
    run = 0
    for ok in outcomes:
        ticket = breaker.acquire(0)
        if ticket is None:
            assert run >= threshold
            return
        if ok:
            breaker.success(ticket, 0)
        else:
            breaker.failure(ticket, 0)
        run = 0 if ok else run + 1
        assert (breaker.state(0) is State.OPEN) == (run >= threshold)


class BreakerHistory(RuleBasedStateMachine):
    """Random interleavings of requests, outcomes (late ones too) and time."""

    tickets = Bundle("tickets")

    @initialize(threshold=st.integers(1, 5), reset=st.floats(0.5, 10))
    def setup(self, threshold: int, reset: float) -> None:
        self.breaker = CircuitBreaker(failure_threshold=threshold, reset_s=reset)
        self.now = 0.0
        self.trials: dict[int, tuple[int, float]] = {}  # unanswered trials: epoch, start
        self.latest_trial: int | None = None  # only the newest trial's outcome counts

    def _trial_running(self) -> bool:
        """A trial of the current half-open period is out and has not expired."""
        epoch = self.breaker._epoch
        starts = [start for e, start in self.trials.values() if e == epoch]
        return bool(starts) and self.now < max(starts) + self.breaker.reset_s

    @rule(dt=st.floats(0, 12))
    def wait(self, dt: float) -> None:
        self.now += dt

    @rule(target=tickets)
    def acquire(self) -> Ticket | None:
        state = self.breaker.state(self.now)
        running = self._trial_running()
        ticket = self.breaker.acquire(self.now)
        if state is State.OPEN:
            assert ticket is None
            retry = self.breaker.retry_after(self.now)
            assert 1 <= retry <= max(1, math.ceil(self.breaker.reset_s))
        elif state is State.CLOSED:
            assert ticket is not None and not ticket.trial
        else:  # half-open: exactly one trial at a time
            assert (ticket is None) == running
            if ticket is not None:
                assert ticket.trial
                self.trials[id(ticket)] = (ticket.epoch, self.now)
                self.latest_trial = id(ticket)
        return ticket

    @rule(ticket=consumes(tickets), outcome=st.sampled_from(["success", "failure", "release"]))
    def answer(self, ticket: Ticket | None, outcome: str) -> None:
        if ticket is None:
            return
        before = self.breaker.state(self.now)
        current = ticket.epoch == self.breaker._epoch
        current = current and (not ticket.trial or id(ticket) == self.latest_trial)
        getattr(self.breaker, outcome)(*((ticket,) if outcome == "release" else (ticket, self.now)))
        after = self.breaker.state(self.now)
        self.trials.pop(id(ticket), None)
        if not current or outcome == "release":
            assert after is before  # late answers and releases change no state
        elif ticket.trial:
            assert after is (State.CLOSED if outcome == "success" else State.OPEN)
        elif outcome == "success":
            assert after is State.CLOSED
        if after is State.OPEN and before is not State.OPEN:
            assert self.breaker.retry_after(self.now) == max(1, math.ceil(self.breaker.reset_s))

    @invariant()
    def open_refuses_everything(self) -> None:
        if hasattr(self, "breaker") and self.breaker.state(self.now) is State.OPEN:
            assert self.breaker.acquire(self.now) is None


BreakerHistory.TestCase.settings = settings(max_examples=300, stateful_step_count=40)
test_breaker_histories = BreakerHistory.TestCase


def test_recovered_closes_an_open_circuit_and_stales_its_tickets() -> None:
    breaker = CircuitBreaker(failure_threshold=1, reset_s=10)
    in_flight = granted(breaker, 0)
    breaker.failure(granted(breaker, 0), 0)
    assert breaker.state(1) is State.OPEN
    breaker.recovered(1)
    assert breaker.state(1) is State.CLOSED
    breaker.failure(in_flight, 2)  # a late answer from before the recovery
    assert breaker.state(2) is State.CLOSED
    breaker.recovered(3)  # already closed: nothing changes
    assert not granted(breaker, 3).trial
