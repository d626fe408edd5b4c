"""A circuit breaker per upstream: stop sending requests to a service that keeps failing.

closed → open after ``failure_threshold`` consecutive failures → half-open once
``reset_s`` have passed (one trial request at a time) → closed when the trial
succeeds, open again (for another ``reset_s``) when it fails.

Pure: the caller passes the time in (any monotonic clock, in seconds) and says
how each admitted request ended. Every admitted request holds a ``Ticket``; an
outcome reported with a ticket from before the last state change (a request that
was already in flight when the circuit opened), or from a trial that has since
been replaced, is ignored: a late answer can neither reopen nor close the circuit.
A readiness probe that finds the upstream ready closes an open circuit at once
(``recovered``): a restarted service gets traffic as soon as it can take it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum


class State(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


@dataclass(frozen=True)
class Ticket:
    """Permission to send one request; hand it back with the outcome."""

    epoch: int
    trial: bool
    serial: int = 0  # which trial, for trial tickets


class CircuitBreaker:
    def __init__(self, failure_threshold: int, reset_s: float) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if not reset_s > 0:
            raise ValueError("reset_s must be positive")
        self.failure_threshold = failure_threshold
        self.reset_s = reset_s
        self._open = False
        self._opened_at = 0.0
        self._failures = 0  # consecutive, while closed
        self._epoch = 0  # bumped on every state change: tickets of an older epoch are stale
        self._trial_since: float | None = None  # a half-open trial is in flight since then
        self._trial_serial = 0  # the trial in flight (or last sent)

    def state(self, now: float) -> State:
        if not self._open:
            return State.CLOSED
        return State.HALF_OPEN if now >= self._opened_at + self.reset_s else State.OPEN

    def acquire(self, now: float) -> Ticket | None:
        """A ticket if a request may go now, else None (answer 503 with ``retry_after``)."""
        state = self.state(now)
        if state is State.CLOSED:
            return Ticket(self._epoch, trial=False)
        if state is State.OPEN or self._trial_busy(now):
            return None
        self._trial_since = now
        self._trial_serial += 1
        return Ticket(self._epoch, trial=True, serial=self._trial_serial)

    def success(self, ticket: Ticket, now: float) -> None:
        if self._stale(ticket):
            return
        if ticket.trial:
            self._change(is_open=False, now=now)
        else:
            self._failures = 0

    def failure(self, ticket: Ticket, now: float) -> None:
        if self._stale(ticket):
            return
        if ticket.trial:
            self._change(is_open=True, now=now)
            return
        self._failures += 1
        if self._failures >= self.failure_threshold:
            self._change(is_open=True, now=now)

    def recovered(self, now: float) -> None:
        """The upstream reported itself ready (a readiness probe): close an open circuit now,
        without waiting for ``reset_s`` and a trial. Tickets from before are stale."""
        if self._open:
            self._change(is_open=False, now=now)

    def trip(self, now: float) -> None:
        """The upstream reported itself not ready (a readiness check): open the circuit now;
        its readiness probe closes it again (``recovered``)."""
        if not self._open:
            self._change(is_open=True, now=now)

    def release(self, ticket: Ticket) -> None:
        """The request ended without telling anything about the upstream (e.g. cancelled)."""
        if ticket.trial and not self._stale(ticket):
            self._trial_since = None

    def retry_after(self, now: float) -> int:
        """Whole seconds a client should wait before trying again (at least 1)."""
        if self.state(now) is State.OPEN:
            # Less a nanosecond: float sums like 6.2 + 10 - 6.2 land just above 10.
            return max(1, math.ceil(self._opened_at + self.reset_s - now - 1e-9))
        return 1

    def _trial_busy(self, now: float) -> bool:
        # A trial whose outcome never came back (a bug or a lost task) must not keep
        # the circuit shut forever: after another reset_s, the next request is a trial.
        return self._trial_since is not None and now < self._trial_since + self.reset_s

    def _stale(self, ticket: Ticket) -> bool:
        replaced = ticket.trial and ticket.serial != self._trial_serial
        return ticket.epoch != self._epoch or replaced

    def _change(self, *, is_open: bool, now: float) -> None:
        self._open = is_open
        self._opened_at = now
        self._failures = 0
        self._trial_since = None
        self._epoch += 1
