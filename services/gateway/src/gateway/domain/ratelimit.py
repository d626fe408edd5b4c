"""Token bucket arithmetic for rate limits: pure functions of state and an explicit clock.

A bucket holds up to ``burst`` tokens and refills at ``rate`` tokens per second; a request
costs ``cost`` tokens and is allowed only when that many are available. No I/O and no clock
reads happen here, so the same math serves the in-memory store, is mirrored by the Redis Lua
script, and is property-tested with any sequence of times.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one check, in the units the RateLimit headers need."""

    allowed: bool
    limit: int  # the bucket's burst
    remaining: int  # whole tokens left after this request
    reset_s: float  # time until the bucket is full again
    retry_after_s: float  # 0 when allowed; else time until the request could pass


@dataclass(frozen=True, slots=True)
class BucketState:
    tokens: float
    updated: float  # the clock reading the tokens were computed at


@dataclass(frozen=True, slots=True)
class TokenBucket:
    rate: float  # tokens per second
    burst: int  # capacity

    def __post_init__(self) -> None:
        # A zero rate would divide by zero in reset/retry times, and NaN compares false to
        # everything, which would quietly disable the limit.
        if not (math.isfinite(self.rate) and self.rate > 0):
            raise ValueError(f"rate must be a positive finite number, got {self.rate!r}")
        if self.burst < 1:
            raise ValueError(f"burst must be at least 1, got {self.burst!r}")

    def full(self, now: float) -> BucketState:
        """A bucket never seen before (or forgotten while idle) is full."""
        return BucketState(tokens=float(self.burst), updated=now)

    def refill(self, state: BucketState, now: float) -> BucketState:
        # A clock that goes backwards (NTP step, another Redis primary after failover) must
        # never mint tokens nor move `updated` back, or replaying the same span would refill
        # twice; so elapsed time is clamped at zero and `updated` only moves forward.
        elapsed = max(0.0, now - state.updated)
        tokens = min(float(self.burst), state.tokens + elapsed * self.rate)
        return BucketState(tokens=tokens, updated=max(state.updated, now))

    def decide(self, tokens: float, cost: int, allowed: bool) -> Decision:
        """A decision from the tokens left after the request (all of them when denied)."""
        return Decision(
            allowed=allowed,
            limit=self.burst,
            remaining=max(0, math.floor(tokens)),
            reset_s=max(0.0, (self.burst - tokens) / self.rate),
            retry_after_s=0.0 if allowed else max(0.0, (cost - tokens) / self.rate),
        )

    def take(self, state: BucketState, now: float, cost: int = 1) -> tuple[BucketState, Decision]:
        """Spend ``cost`` tokens if available. A denial returns ``state`` itself, unchanged."""
        _check_cost(self, cost)
        current = self.refill(state, now)
        if current.tokens < cost:
            return state, self.decide(current.tokens, cost, allowed=False)
        spent = BucketState(tokens=current.tokens - cost, updated=current.updated)
        return spent, self.decide(spent.tokens, cost, allowed=True)


def take_all(
    items: Sequence[tuple[TokenBucket, BucketState]], now: float, cost: int = 1
) -> tuple[list[BucketState], list[Decision]]:
    """Spend ``cost`` from every bucket, or from none of them.

    Checking all buckets before spending from any means a request denied by one bucket never
    drains another: no refund step exists that could race or be forgotten. On a denial the
    input states come back unchanged, and buckets that had enough report ``allowed=True``
    with nothing spent, so the caller's tightest decision is the denying one.
    """
    for bucket, _ in items:
        _check_cost(bucket, cost)
    current = [bucket.refill(state, now) for bucket, state in items]
    if all(state.tokens >= cost for state in current):
        spent = [BucketState(s.tokens - cost, s.updated) for s in current]
        decisions = [b.decide(s.tokens, cost, True) for (b, _), s in zip(items, spent, strict=True)]
        return spent, decisions
    decisions = [
        bucket.decide(state.tokens, cost, allowed=state.tokens >= cost)
        for (bucket, _), state in zip(items, current, strict=True)
    ]
    return [state for _, state in items], decisions


def tightest(decisions: Sequence[Decision]) -> Decision:
    """The decision to report when a request passed through several buckets.

    If any bucket denied, the request waits for the slowest denying bucket (all must have
    tokens). Otherwise the bucket closest to denying (fewest remaining) is the one a client
    must pace itself against.
    """
    if not decisions:
        raise ValueError("no decisions to combine")
    denied = [d for d in decisions if not d.allowed]
    if denied:
        return max(denied, key=lambda d: (d.retry_after_s, d.reset_s))
    return min(decisions, key=lambda d: (d.remaining, -d.reset_s))


def _check_cost(bucket: TokenBucket, cost: int) -> None:
    # A cost above the burst could never be satisfied and would be denied forever; that is a
    # configuration bug, not a client to throttle.
    if not 0 <= cost <= bucket.burst:
        raise ValueError(f"cost must be between 0 and burst={bucket.burst}, got {cost}")
