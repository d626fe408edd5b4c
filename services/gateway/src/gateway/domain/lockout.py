"""Login throttling: growing backoff after failures, then a lockout.

After the second consecutive failure each attempt must wait 2^(n-2) seconds
(1, 2, 4 s...); after ``max_failures`` the account locks for ``lockout``.
A success clears everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

MAX_BACKOFF = timedelta(minutes=1)


@dataclass(frozen=True)
class LoginState:
    failures: int = 0
    last_failure_at: datetime | None = None
    locked_until: datetime | None = None


@dataclass(frozen=True)
class Policy:
    max_failures: int = 5
    lockout: timedelta = timedelta(minutes=15)


def wait_before_attempt(state: LoginState, now: datetime) -> timedelta:
    """How long the caller must still wait before a login attempt is even checked."""
    if state.locked_until is not None and now < state.locked_until:
        return state.locked_until - now
    if state.failures < 2 or state.last_failure_at is None:
        return timedelta(0)
    backoff = min(timedelta(seconds=2 ** (state.failures - 2)), MAX_BACKOFF)
    return max(state.last_failure_at + backoff - now, timedelta(0))


def after_failure(state: LoginState, now: datetime, policy: Policy) -> LoginState:
    lock_over = state.locked_until is not None and now >= state.locked_until
    failures = 1 if lock_over else state.failures + 1
    locked_until = now + policy.lockout if failures >= policy.max_failures else None
    return LoginState(failures=failures, last_failure_at=now, locked_until=locked_until)


def after_success() -> LoginState:
    return LoginState()
