"""Unit tests for rate limiting: token bucket math (properties) and the in-memory store."""

from __future__ import annotations

import json
import logging
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.access import kind_of
from gateway.domain.ratelimit import BucketState, Decision, TokenBucket, take_all, tightest
from gateway.ratelimit import (
    FAIL_OPEN,
    MemoryStore,
    RateLimiter,
    RedisStore,
    bucket_keys,
    rate_limit_headers,
    too_many_requests,
)
from gateway.settings import Bucket, PlanLimits, PrincipalKind, Settings
from servicekit.auth import Principal
from servicekit.devbroker import free_port

EPS = 1e-9


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def plan(
    tenant_rate: float = 0.001,
    tenant_burst: int = 100,
    principal_rate: float = 0.001,
    principal_burst: int = 100,
) -> PlanLimits:
    return PlanLimits(
        tenant_rate=tenant_rate,
        tenant_burst=tenant_burst,
        principal_rate=principal_rate,
        principal_burst=principal_burst,
    )


def memory_limiter(clock: FakeClock, max_buckets: int = 1000) -> RateLimiter:
    return RateLimiter(MemoryStore(max_buckets=max_buckets, clock=clock))


# --- Token bucket: examples -------------------------------------------------------------


def test_fresh_bucket_allows_burst_then_denies() -> None:
    bucket = TokenBucket(rate=2.0, burst=3)
    state = bucket.full(0.0)
    remaining = []
    for _ in range(3):
        state, decision = bucket.take(state, 0.0)
        assert decision.allowed and decision.retry_after_s == 0
        remaining.append(decision.remaining)
    assert remaining == [2, 1, 0]
    state, denied = bucket.take(state, 0.0)
    assert denied == Decision(allowed=False, limit=3, remaining=0, reset_s=1.5, retry_after_s=0.5)


def test_refill_after_waiting_retry_after() -> None:
    bucket = TokenBucket(rate=4.0, burst=1)
    state, _ = bucket.take(bucket.full(0.0), 0.0)
    _, denied = bucket.take(state, 0.1)
    assert not denied.allowed
    assert denied.retry_after_s == pytest.approx(0.15)
    _, allowed = bucket.take(state, 0.1 + denied.retry_after_s)
    assert allowed.allowed


def test_cost_above_burst_or_negative_is_rejected() -> None:
    bucket = TokenBucket(rate=1.0, burst=2)
    with pytest.raises(ValueError, match="cost"):
        bucket.take(bucket.full(0.0), 0.0, cost=3)
    with pytest.raises(ValueError, match="cost"):
        bucket.take(bucket.full(0.0), 0.0, cost=-1)


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1), (-1.0, 1), (math.nan, 1), (1.0, 0)])
def test_invalid_bucket_is_rejected(rate: float, burst: int) -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate=rate, burst=burst)


def test_clock_going_backwards_mints_nothing() -> None:
    bucket = TokenBucket(rate=1.0, burst=5)
    state, _ = bucket.take(bucket.full(100.0), 100.0)
    back = bucket.refill(state, 40.0)
    assert back == state  # 4 tokens, updated stays at 100
    # And the span 40..100 is not counted again when time comes back.
    assert bucket.refill(back, 100.5).tokens == pytest.approx(4.5)


# --- Token bucket: properties -----------------------------------------------------------

buckets = st.builds(
    TokenBucket,
    rate=st.floats(min_value=0.001, max_value=1000, allow_nan=False),
    burst=st.integers(min_value=1, max_value=50),
)
# Steps may go backwards in time; costs stay within 0..burst (scaled per bucket below).
steps = st.lists(
    st.tuples(st.floats(min_value=-5, max_value=5, allow_nan=False), st.floats(0, 1)),
    min_size=1,
    max_size=60,
)


def _run(
    bucket: TokenBucket, deltas: list[tuple[float, float]]
) -> list[tuple[float, float, BucketState, BucketState, Decision, int]]:
    """Apply the steps; each record: clock, effective clock, before, after, decision, cost."""
    now = effective = 0.0
    state = bucket.full(now)
    records = []
    for delta, fraction in deltas:
        now += delta
        effective = max(effective, now)
        cost = round(fraction * bucket.burst)
        after, decision = bucket.take(state, now, cost)
        records.append((now, effective, state, after, decision, cost))
        state = after
    return records


@given(buckets, steps)
def test_tokens_stay_between_zero_and_burst(
    bucket: TokenBucket, deltas: list[tuple[float, float]]
) -> None:
    for *_, after, _decision, _cost in _run(bucket, deltas):
        assert 0 <= after.tokens <= bucket.burst


@given(buckets, steps)
def test_denied_request_changes_nothing(
    bucket: TokenBucket, deltas: list[tuple[float, float]]
) -> None:
    for *_, before, after, decision, _cost in _run(bucket, deltas):
        if not decision.allowed:
            assert after is before
            assert decision.retry_after_s > 0
        else:
            assert decision.retry_after_s == 0


@given(buckets, steps)
def test_allowed_in_any_window_is_bounded(
    bucket: TokenBucket, deltas: list[tuple[float, float]]
) -> None:
    # Unit costs make "number allowed" the tokens spent. Over the window between the i-th
    # and j-th requests (on the bucket's clamped clock) at most burst + rate·T may pass.
    records = _run(bucket, [(delta, 1 / bucket.burst) for delta, _ in deltas])
    for i in range(len(records)):
        allowed = 0
        for j in range(i, len(records)):
            allowed += records[j][4].allowed
            elapsed = records[j][1] - records[i][1]
            assert allowed <= bucket.burst + bucket.rate * elapsed + 1e-6


@given(buckets, steps)
def test_time_going_backwards_never_refills(
    bucket: TokenBucket, deltas: list[tuple[float, float]]
) -> None:
    for now, effective, before, after, decision, cost in _run(bucket, deltas):
        assert after.updated == max(before.updated, now) or after is before
        if now < before.updated:  # clock went back: exactly the tokens we had
            expected = before.tokens - cost if decision.allowed else before.tokens
            assert after.tokens == pytest.approx(expected)
        assert after.updated <= effective


@given(buckets, steps)
def test_decision_matches_state(bucket: TokenBucket, deltas: list[tuple[float, float]]) -> None:
    for *_, after, decision, _cost in _run(bucket, deltas):
        assert decision.limit == bucket.burst
        if decision.allowed:
            assert decision.remaining == math.floor(after.tokens)
            assert decision.reset_s == pytest.approx((bucket.burst - after.tokens) / bucket.rate)
        assert 0 <= decision.remaining <= bucket.burst


@given(buckets, buckets, st.floats(0, 100), st.integers(0, 60), st.integers(0, 60))
def test_take_all_spends_from_all_or_none(
    first: TokenBucket, second: TokenBucket, now: float, spent_first: int, spent_second: int
) -> None:
    states = [
        BucketState(max(0.0, first.burst - spent_first), 0.0),
        BucketState(max(0.0, second.burst - spent_second), 0.0),
    ]
    items = [(first, states[0]), (second, states[1])]
    after, decisions = take_all(items, now)
    if all(d.allowed for d in decisions):
        assert all(
            a.tokens == pytest.approx(b.refill(s, now).tokens - 1)
            for a, (b, s) in zip(after, items, strict=True)
        )
    else:
        assert after[0] is states[0] and after[1] is states[1]
        assert not tightest(decisions).allowed


def test_tightest_prefers_denied_with_longest_wait_then_fewest_remaining() -> None:
    ok_many = Decision(True, 10, 8, 1.0, 0.0)
    ok_few = Decision(True, 100, 2, 5.0, 0.0)
    denied_soon = Decision(False, 10, 0, 3.0, 0.2)
    denied_late = Decision(False, 100, 0, 9.0, 4.0)
    assert tightest([ok_many, ok_few]) == ok_few
    assert tightest([ok_many, denied_soon, denied_late]) == denied_late
    with pytest.raises(ValueError):
        tightest([])


# --- RateLimiter on the memory store ---------------------------------------------------


async def test_principal_limit_is_per_principal() -> None:
    limiter = memory_limiter(FakeClock())
    limits = plan(principal_burst=2)
    results = [
        (await limiter.check(tenant_id="t", principal="alice", plan=limits)).allowed
        for _ in range(3)
    ]
    assert results == [True, True, False]
    assert (await limiter.check(tenant_id="t", principal="bob", plan=limits)).allowed


async def test_principal_bucket_is_sized_by_kind() -> None:
    limiter = memory_limiter(FakeClock())
    limits = plan(principal_burst=2).model_copy(
        update={"kinds": {"apikey": Bucket(rate=0.001, burst=5)}}
    )

    async def allowed(principal: str, kind: PrincipalKind) -> int:
        checks = [
            await limiter.check(tenant_id="t", principal=principal, plan=limits, kind=kind)
            for _ in range(8)
        ]
        return sum(decision.allowed for decision in checks)

    assert await allowed("apikey:k1", "apikey") == 5  # its own size
    assert await allowed("member:m1", "member") == 2  # the person's size
    assert await allowed("user:o1", "operator") == 2  # no operator size: the person's


def test_default_plans_let_an_api_key_mint_hundreds_of_tokens_per_second() -> None:
    for name in ("standard", "enterprise"):
        limits = Settings().rate_limit_plans[name]
        apikey, member = limits.principal_bucket("apikey"), limits.principal_bucket("member")
        assert apikey.rate >= 200 and apikey.rate <= limits.tenant_rate
        assert member.rate < apikey.rate


def test_kind_of_principal() -> None:
    def principal(token_type: str) -> Principal:
        return Principal(tenant_id="t", subject="s", roles=frozenset(), token_type=token_type)

    assert kind_of(principal("apikey")) == "apikey"
    assert kind_of(principal("member")) == "member"
    assert kind_of(principal("access")) == "operator"


async def test_tenant_limit_is_shared_by_its_principals() -> None:
    limiter = memory_limiter(FakeClock())
    limits = plan(tenant_burst=3)
    allowed = [
        (await limiter.check(tenant_id="t", principal=f"p{i}", plan=limits)).allowed
        for i in range(5)
    ]
    assert allowed == [True, True, True, False, False]


async def test_principal_denial_does_not_consume_tenant_tokens() -> None:
    limiter = memory_limiter(FakeClock())
    limits = plan(tenant_burst=5, principal_burst=1)
    for _ in range(10):  # 1 allowed, 9 denied by alice's own bucket
        await limiter.check(tenant_id="t", principal="alice", plan=limits)
    # The tenant spent 1 token, not 10: four other principals still pass.
    allowed = [
        (await limiter.check(tenant_id="t", principal=f"p{i}", plan=limits)).allowed
        for i in range(5)
    ]
    assert allowed == [True, True, True, True, False]


async def test_tenant_denial_does_not_consume_principal_tokens() -> None:
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    limiter = RateLimiter(store)
    limits = plan(tenant_rate=1.0, tenant_burst=1, principal_burst=3)
    assert (await limiter.check(tenant_id="t", principal="alice", plan=limits)).allowed
    for _ in range(5):  # denied by the tenant bucket
        assert not (await limiter.check(tenant_id="t", principal="alice", plan=limits)).allowed
    clock.advance(1.0)
    decision = await limiter.check(tenant_id="t", principal="alice", plan=limits)
    assert decision.allowed
    # Alice's own bucket lost only the two allowed requests.
    assert decision.remaining == 0  # reported bucket: the tenant's, the tighter one
    _, principal_key = bucket_keys("t", "alice")
    state = store._states["quanzi:gw:rl:" + principal_key]
    assert state.tokens == pytest.approx(1.0, abs=0.01)


async def test_one_tenant_flood_leaves_another_untouched() -> None:
    limiter = memory_limiter(FakeClock())
    limits = plan(tenant_burst=10, principal_burst=10)
    for _ in range(50):
        await limiter.check(tenant_id="tenant-a", principal="same-name", plan=limits)
    decision = await limiter.check(tenant_id="tenant-b", principal="same-name", plan=limits)
    assert decision.allowed and decision.remaining == 9


def test_keys_cannot_be_forged_across_tenants() -> None:
    tricky = [("a", "x"), ("a}:principal:x", "y"), ("a:principal:x", "y"), ("a%7D", "x")]
    keys = [key for tenant, principal in tricky for key in bucket_keys(tenant, principal)]
    assert len(set(keys)) == len(keys)
    for tenant, principal in tricky:
        tenant_key, principal_key = bucket_keys(tenant, principal)
        # Both keys share one hash tag: one Redis Cluster slot, so the script may use both.
        tag = tenant_key[: tenant_key.index("}") + 1]
        assert principal_key.startswith(tag)


async def test_refill_over_time_with_fake_clock() -> None:
    clock = FakeClock()
    limiter = memory_limiter(clock)
    limits = plan(principal_rate=2.0, principal_burst=2)
    for _ in range(2):
        await limiter.check(tenant_id="t", principal="p", plan=limits)
    denied = await limiter.check(tenant_id="t", principal="p", plan=limits)
    assert not denied.allowed
    assert denied.retry_after_s == pytest.approx(0.5)
    clock.advance(0.5)
    assert (await limiter.check(tenant_id="t", principal="p", plan=limits)).allowed


async def test_memory_store_is_bounded_lru() -> None:
    clock = FakeClock()
    store = MemoryStore(max_buckets=4, clock=clock)
    limiter = RateLimiter(store)
    limits = plan(principal_burst=1)
    assert (await limiter.check(tenant_id="t", principal="hot", plan=limits)).allowed
    for i in range(20):
        await limiter.check(tenant_id="t", principal=f"p{i}", plan=limits)
        assert len(store) <= 4
    # "hot" was evicted: forgetting a bucket can only make it full again (lenient).
    assert (await limiter.check(tenant_id="t", principal="hot", plan=limits)).allowed


async def test_recently_used_bucket_survives_eviction() -> None:
    store = MemoryStore(max_buckets=3, clock=FakeClock())
    limiter = RateLimiter(store)
    limits = plan(principal_burst=1)
    await limiter.check(tenant_id="t", principal="hot", plan=limits)
    for i in range(5):
        await limiter.check(tenant_id="t", principal="hot", plan=limits)  # keeps it recent
        await limiter.check(tenant_id="t", principal=f"p{i}", plan=limits)
    assert not (await limiter.check(tenant_id="t", principal="hot", plan=limits)).allowed


# --- Headers and problem ---------------------------------------------------------------


def test_headers_when_allowed() -> None:
    decision = Decision(allowed=True, limit=40, remaining=39, reset_s=0.05, retry_after_s=0.0)
    assert rate_limit_headers(decision) == {
        "RateLimit-Limit": "40",
        "RateLimit-Remaining": "39",
        "RateLimit-Reset": "1",
    }


@pytest.mark.parametrize(
    ("retry_after_s", "header"), [(0.0, "1"), (0.2, "1"), (1.0, "1"), (1.01, "2"), (59.5, "60")]
)
def test_retry_after_is_whole_seconds_rounded_up(retry_after_s: float, header: str) -> None:
    decision = Decision(False, 10, 0, 7.2, retry_after_s)
    headers = rate_limit_headers(decision)
    assert headers["Retry-After"] == header
    assert headers["RateLimit-Reset"] == "8"
    assert headers["RateLimit-Remaining"] == "0"


def test_too_many_requests_problem() -> None:
    problem = too_many_requests(Decision(False, 10, 0, 4.0, 2.5))
    assert problem.status == 429
    assert problem.slug == "rate-limited"
    assert problem.headers["Retry-After"] == "3"
    response = problem.response(instance="/v1/content/posts")
    assert response.status_code == 429
    assert response.media_type == "application/problem+json"
    assert response.headers["retry-after"] == "3"
    assert response.headers["ratelimit-limit"] == "10"
    body = json.loads(bytes(response.body))
    assert body["type"] == "https://quanzi.dev/problems/rate-limited"
    assert body["retry_after_s"] == 3


# --- Factory and failing open ----------------------------------------------------------


async def test_from_settings_picks_the_store() -> None:
    memory = RateLimiter.from_settings(Settings(redis_url=None))
    assert isinstance(memory.store, MemoryStore)
    shared = RateLimiter.from_settings(Settings(redis_url="redis://127.0.0.1:6379/0"))
    assert isinstance(shared.store, RedisStore)  # no connection until the first check
    await shared.aclose()


async def test_unreachable_redis_fails_open_then_backs_off(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    store = RedisStore.from_url(f"redis://127.0.0.1:{free_port()}/0", backoff_s=5.0)
    store._clock = clock
    limiter = RateLimiter(store)
    limits = plan(tenant_burst=7, principal_burst=3)
    before = FAIL_OPEN._value.get()
    with caplog.at_level(logging.WARNING, logger="gateway.ratelimit"):
        decisions = [
            await limiter.check(tenant_id="t", principal="p", plan=limits) for _ in range(5)
        ]
    assert all(d.allowed for d in decisions)
    assert decisions[0] == Decision(True, 3, 3, 0.0, 0.0)  # full buckets: nothing is known
    assert FAIL_OPEN._value.get() - before == 5
    # Only the first check tried Redis and warned; the rest skipped it during the backoff.
    warnings = [r for r in caplog.records if "failing open" in r.getMessage()]
    assert len(warnings) == 1
    await limiter.aclose()
