"""Rate limits shared through a real Redis (127.0.0.1:6379, or QUANZI_TEST_REDIS_URL).

Skips with a message when Redis is unreachable, and fails instead when ``CI`` is set. Every
test uses its own key prefix and deletes its keys afterwards.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import redis

from gateway.ratelimit import RateLimiter, RedisStore, bucket_keys
from gateway.settings import PlanLimits

REDIS_URL = os.environ.get("QUANZI_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
WORKER = Path(__file__).with_name("gw_ratelimit_worker.py")
TINY_RATE = 0.001  # one token per ~17 minutes: no refill during a test


def plan(
    tenant_burst: int = 1000,
    principal_burst: int = 1000,
    tenant_rate: float = TINY_RATE,
    principal_rate: float = TINY_RATE,
) -> PlanLimits:
    return PlanLimits(
        tenant_rate=tenant_rate,
        tenant_burst=tenant_burst,
        principal_rate=principal_rate,
        principal_burst=principal_burst,
    )


@pytest.fixture(scope="module")
def sync_redis() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=5)
    try:
        client.ping()
    except (redis.RedisError, OSError) as error:
        client.close()
        message = f"Redis unreachable at {REDIS_URL}: {error}"
        if os.environ.get("CI"):
            pytest.fail(message + " (required under CI)")
        pytest.skip(message)
    yield client
    client.close()


@pytest.fixture
def prefix(sync_redis: redis.Redis) -> Iterator[str]:
    value = f"test:gw-rl:{uuid.uuid4().hex}:"
    yield value
    keys = list(sync_redis.scan_iter(match=value + "*", count=500))
    if keys:
        sync_redis.delete(*keys)


@pytest.fixture
async def make_limiter(prefix: str) -> AsyncIterator[Callable[[], RateLimiter]]:
    """Each call is a new limiter with its own Redis connections: another gateway process."""
    limiters: list[RateLimiter] = []

    def make() -> RateLimiter:
        limiters.append(
            RateLimiter(RedisStore.from_url(REDIS_URL, timeout_s=5.0), key_prefix=prefix)
        )
        return limiters[-1]

    yield make
    for limiter in limiters:
        await limiter.aclose()


async def test_two_instances_share_one_tenant_limit(
    make_limiter: Callable[[], RateLimiter],
) -> None:
    first, second = make_limiter(), make_limiter()
    limits = plan(tenant_burst=10)
    allowed = 0
    for i in range(20):
        limiter = first if i % 2 == 0 else second
        decision = await limiter.check(tenant_id="acme", principal=f"user-{i % 3}", plan=limits)
        allowed += decision.allowed
    assert allowed == 10


async def test_one_tenant_flood_leaves_another_untouched(
    make_limiter: Callable[[], RateLimiter],
) -> None:
    first, second = make_limiter(), make_limiter()
    limits = plan(tenant_burst=10, principal_burst=10)
    for _ in range(30):
        await first.check(tenant_id="tenant-a", principal="same-name", plan=limits)
    denied = await first.check(tenant_id="tenant-a", principal="same-name", plan=limits)
    assert not denied.allowed
    decision = await second.check(tenant_id="tenant-b", principal="same-name", plan=limits)
    assert decision.allowed
    assert decision.remaining == 9


async def test_concurrent_checks_never_overspend(
    make_limiter: Callable[[], RateLimiter],
) -> None:
    first, second = make_limiter(), make_limiter()
    limits = plan(tenant_burst=10)
    decisions = await asyncio.gather(
        *(
            (first if i % 2 else second).check(tenant_id="acme", principal=f"u{i}", plan=limits)
            for i in range(50)
        )
    )
    assert sum(d.allowed for d in decisions) == 10
    denied = [d for d in decisions if not d.allowed]
    assert all(d.retry_after_s > 0 and d.remaining == 0 for d in denied)


async def test_denial_by_principal_does_not_spend_tenant_tokens(
    make_limiter: Callable[[], RateLimiter],
) -> None:
    limiter = make_limiter()
    limits = plan(tenant_burst=5, principal_burst=1)
    results = [
        (await limiter.check(tenant_id="acme", principal="alice", plan=limits)).allowed
        for _ in range(10)
    ]
    assert results == [True] + [False] * 9
    others = [
        (await limiter.check(tenant_id="acme", principal=f"p{i}", plan=limits)).allowed
        for i in range(5)
    ]
    assert others == [True, True, True, True, False]


async def test_lua_refills_like_the_domain(make_limiter: Callable[[], RateLimiter]) -> None:
    limiter = make_limiter()
    limits = plan(principal_rate=20.0, principal_burst=2)
    first = await limiter.check(tenant_id="acme", principal="p", plan=limits)
    assert first.allowed and first.limit == 2 and first.remaining == 1
    await limiter.check(tenant_id="acme", principal="p", plan=limits)
    denied = await limiter.check(tenant_id="acme", principal="p", plan=limits)
    assert not denied.allowed
    assert 0 < denied.retry_after_s <= 0.05
    await asyncio.sleep(denied.retry_after_s + 0.02)
    assert (await limiter.check(tenant_id="acme", principal="p", plan=limits)).allowed


async def test_keys_expire_once_the_bucket_would_be_full(
    make_limiter: Callable[[], RateLimiter], prefix: str, sync_redis: redis.Redis
) -> None:
    limiter = make_limiter()
    limits = plan(tenant_rate=100.0, tenant_burst=100, principal_rate=1.0, principal_burst=5)
    await limiter.check(tenant_id="acme", principal="p", plan=limits)
    tenant_key, principal_key = (prefix + key for key in bucket_keys("acme", "p"))
    # One token short: full again after 1/rate seconds, plus a second of slack.
    assert 0 < sync_redis.pttl(tenant_key) <= 10 + 1000
    assert 1000 < sync_redis.pttl(principal_key) <= 1000 + 1000
    assert set(sync_redis.hkeys(principal_key)) == {b"tokens", b"ts"}


async def test_denied_check_writes_nothing(
    make_limiter: Callable[[], RateLimiter], prefix: str, sync_redis: redis.Redis
) -> None:
    limiter = make_limiter()
    limits = plan(principal_burst=1)
    await limiter.check(tenant_id="acme", principal="p", plan=limits)
    tenant_key, _ = (prefix + key for key in bucket_keys("acme", "p"))
    before = sync_redis.hgetall(tenant_key)
    assert not (await limiter.check(tenant_id="acme", principal="p", plan=limits)).allowed
    assert sync_redis.hgetall(tenant_key) == before


def test_separate_processes_share_the_limit(prefix: str) -> None:
    burst, checks = 10, 15
    args = [REDIS_URL, prefix, "acme", "", str(checks), str(burst), str(TINY_RATE)]
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), *args[:3], f"worker-{n}", *args[4:]],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(2)
    ]
    try:
        for worker in workers:  # start barrier: both connected before either checks
            assert worker.stdout is not None
            assert worker.stdout.readline().strip() == "ready"
        started = time.monotonic()
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        outputs = [worker.communicate(timeout=60)[0] for worker in workers]
        elapsed = time.monotonic() - started
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    assert [w.returncode for w in workers] == [0, 0]
    counts = [json.loads(output.strip().splitlines()[-1])["allowed"] for output in outputs]
    assert int(burst + TINY_RATE * elapsed) == burst  # the rate adds no whole token
    assert sum(counts) == burst, counts
