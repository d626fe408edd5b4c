"""A stand-in gateway process for test_gw_ratelimit_redis: N checks against a shared Redis.

Usage: python gw_ratelimit_worker.py REDIS_URL KEY_PREFIX TENANT PRINCIPAL CHECKS BURST RATE

Prints "ready", waits for a line on stdin (so all workers start together), makes CHECKS
concurrent checks, and prints the number allowed as JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys

from gateway.ratelimit import RateLimiter, RedisStore
from gateway.settings import PlanLimits


async def run(argv: list[str]) -> int:
    url, prefix, tenant, principal, checks, burst, rate = argv
    limits = PlanLimits(
        tenant_rate=float(rate),
        tenant_burst=int(burst),
        principal_rate=1000.0,
        principal_burst=1000,
    )
    store = RedisStore.from_url(url, timeout_s=5.0)
    limiter = RateLimiter(store, key_prefix=prefix)
    try:
        # Connect before the barrier, so the workers' checks really overlap.
        if not await store.ping():
            raise SystemExit(f"Redis unreachable at {url}")
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        decisions = await asyncio.gather(
            *(
                limiter.check(tenant_id=tenant, principal=principal, plan=limits)
                for _ in range(int(checks))
            )
        )
        return sum(d.allowed for d in decisions)
    finally:
        await limiter.aclose()


if __name__ == "__main__":
    print(json.dumps({"allowed": asyncio.run(run(sys.argv[1:]))}), flush=True)
