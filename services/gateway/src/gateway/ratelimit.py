"""Rate limits per tenant and per principal, in memory or shared through Redis.

Every request passes two token buckets: its tenant's (all principals of a tenant together)
and its principal's. Both keys contain the tenant id, so no tenant can reach another's
buckets, whatever principal names it picks. Both buckets are checked and spent atomically,
all or nothing (see ``domain.ratelimit.take_all`` and the Lua script), so a request denied by
one bucket never consumes tokens from the other and no refund step is needed.

Stores:

- ``MemoryStore``: one gateway instance. Bounded LRU: the least recently used buckets are
  dropped past ``max_buckets``. Forgetting a bucket can only make it full again, so eviction
  errs in the client's favour, never against it; the least recently used bucket has
  usually refilled anyway.
- ``RedisStore``: several instances share limits. A Lua script does the same arithmetic with
  Redis's own clock (instances' clocks may disagree) and sets a TTL equal to the time until
  the bucket is full again: an expired key and a full bucket are the same thing. (Reading
  TIME before writing needs Redis >= 5, where scripts replicate their effects.)

Redis unreachable: we fail OPEN. The request is allowed, a warning is logged (once per
backoff window, not per request) and ``quanzi_gateway_ratelimit_fail_open_total`` counts it.
Rate limiting protects capacity; turning a Redis outage into a full API outage (500/503 for
every client) would be the worse failure. For ``backoff_s`` after a failure Redis is not
tried at all, so an outage does not add a connect timeout to every request.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Protocol
from urllib.parse import quote

import redis.asyncio as aioredis
from prometheus_client import Counter
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from gateway.domain.ratelimit import BucketState, Decision, TokenBucket, take_all, tightest
from gateway.settings import PlanLimits, PrincipalKind, Settings
from servicekit.problems import Problem

log = logging.getLogger(__name__)

DECISIONS = Counter(
    "quanzi_gateway_ratelimit_decisions_total", "Rate limit checks", ["store", "result"]
)
FAIL_OPEN = Counter(
    "quanzi_gateway_ratelimit_fail_open_total", "Checks allowed because Redis was unreachable"
)

Clock = Callable[[], float]
Buckets = Sequence[tuple[str, TokenBucket]]


class Store(Protocol):
    name: str

    async def take_all(self, buckets: Buckets, cost: int) -> list[Decision]:
        """Spend ``cost`` from every keyed bucket or from none; one decision per bucket."""
        ...

    async def aclose(self) -> None: ...


class MemoryStore:
    """Buckets in a bounded LRU dict, for a single gateway instance."""

    name = "memory"

    def __init__(self, *, max_buckets: int = 100_000, clock: Clock = time.monotonic) -> None:
        self._states: OrderedDict[str, BucketState] = OrderedDict()
        self._max_buckets = max_buckets
        self._clock = clock

    def __len__(self) -> int:
        return len(self._states)

    async def take_all(self, buckets: Buckets, cost: int) -> list[Decision]:
        # No await between reading and writing the states: on one event loop this whole
        # method is atomic, like the Lua script is on Redis.
        now = self._clock()
        items = [(bucket, self._state(key, bucket, now)) for key, bucket in buckets]
        states, decisions = take_all(items, now, cost)
        for (key, _), state in zip(buckets, states, strict=True):
            self._states[key] = state
            self._states.move_to_end(key)
        while len(self._states) > self._max_buckets:
            self._states.popitem(last=False)
        return decisions

    def _state(self, key: str, bucket: TokenBucket, now: float) -> BucketState:
        state = self._states.get(key)
        return bucket.full(now) if state is None else state

    async def aclose(self) -> None:
        self._states.clear()


# KEYS: the buckets. ARGV[1]: cost; then rate and burst of each bucket in KEYS order.
# Returns {all_allowed, then per bucket: allowed, tokens-left as a string}. Strings because
# Redis truncates Lua numbers to integers in replies; %.17g round-trips a double exactly.
# Same arithmetic as gateway.domain.ratelimit: clamp elapsed at 0, check all, spend all or none.
_TAKE_ALL_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local cost = tonumber(ARGV[1])
local n = #KEYS
local tokens, stamps, rates, bursts = {}, {}, {}, {}
local all_ok = 1
for i = 1, n do
  local rate, burst = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  local saved = redis.call('HMGET', KEYS[i], 'tokens', 'ts')
  local tk, ts = tonumber(saved[1]), tonumber(saved[2])
  if tk == nil or ts == nil then tk, ts = burst, now end
  tk = math.min(burst, tk + math.max(0, now - ts) * rate)
  tokens[i], stamps[i], rates[i], bursts[i] = tk, math.max(ts, now), rate, burst
  if tk < cost then all_ok = 0 end
end
local out = {all_ok}
for i = 1, n do
  local tk, ok = tokens[i], 0
  if tokens[i] >= cost then ok = 1 end
  if all_ok == 1 then
    tk = tk - cost
    redis.call('HSET', KEYS[i], 'tokens', string.format('%.17g', tk),
               'ts', string.format('%.17g', stamps[i]))
    -- Gone once full again: a missing key reads as a full bucket.
    local ttl = math.ceil((bursts[i] - tk) / rates[i] * 1000) + 1000
    redis.call('PEXPIRE', KEYS[i], ttl)
  end
  out[#out + 1] = ok
  out[#out + 1] = string.format('%.17g', tk)
end
return out
"""


class RedisStore:
    """Buckets shared by every gateway instance through one Redis."""

    name = "redis"

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        timeout_s: float = 0.5,
        backoff_s: float = 1.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self._client = client
        self._script = client.register_script(_TAKE_ALL_LUA)
        self._timeout_s = timeout_s
        self._backoff_s = backoff_s
        self._clock = clock
        self._down_until = -math.inf

    @classmethod
    def from_url(cls, url: str, *, timeout_s: float = 0.5, backoff_s: float = 1.0) -> RedisStore:
        client = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            # One immediate retry, on connection errors only, heals a pooled connection that
            # Redis closed. Not on timeouts: the script may have run, and running it twice
            # would spend twice. The default exponential backoff would stall requests.
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        )
        return cls(client, timeout_s=timeout_s, backoff_s=backoff_s)

    async def take_all(self, buckets: Buckets, cost: int) -> list[Decision]:
        if self._clock() < self._down_until:
            return _fail_open(buckets)
        try:
            async with asyncio.timeout(self._timeout_s):
                reply = await self._script(keys=[k for k, _ in buckets], args=_args(buckets, cost))
        except (RedisError, OSError, TimeoutError) as error:
            self._down_until = self._clock() + self._backoff_s
            log.warning(
                "rate limit store unreachable, failing open for %.1fs: %r", self._backoff_s, error
            )
            return _fail_open(buckets)
        return _decisions(buckets, cost, reply)

    async def ping(self) -> bool:
        """Whether Redis answers, for health pages; checks fail open either way."""
        try:
            async with asyncio.timeout(self._timeout_s):
                return bool(await self._client.ping())
        except (RedisError, OSError, TimeoutError):
            return False

    async def aclose(self) -> None:
        await self._client.aclose()


def _args(buckets: Buckets, cost: int) -> list[str]:
    args = [str(cost)]
    for _, bucket in buckets:
        if not 0 <= cost <= bucket.burst:  # the domain's rule, checked before Redis sees it
            raise ValueError(f"cost must be between 0 and burst={bucket.burst}, got {cost}")
        args += [repr(bucket.rate), str(bucket.burst)]
    return args


def _decisions(buckets: Buckets, cost: int, reply: list[object]) -> list[Decision]:
    pairs = zip(reply[1::2], reply[2::2], strict=True)
    return [
        bucket.decide(float(_text(tokens)), cost, allowed=int(_text(ok)) == 1)
        for (_, bucket), (ok, tokens) in zip(buckets, pairs, strict=True)
    ]


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _fail_open(buckets: Buckets) -> list[Decision]:
    FAIL_OPEN.inc()
    # Nothing is known about the real state; report full buckets rather than invent a count.
    return [bucket.decide(float(bucket.burst), 0, allowed=True) for _, bucket in buckets]


def bucket_keys(tenant_id: str, principal: str) -> tuple[str, str]:
    """Tenant and principal bucket keys, both scoped by the tenant.

    Ids are percent-encoded so ``:``, ``{`` or ``}`` inside an id cannot forge another key;
    the ``{tenant}`` hash tag keeps both keys in one Redis Cluster slot, which a multi-key
    script requires.
    """
    tenant = quote(tenant_id, safe="")
    return f"{{{tenant}}}:tenant", f"{{{tenant}}}:principal:{quote(principal, safe='')}"


class RateLimiter:
    def __init__(self, store: Store, *, key_prefix: str = "quanzi:gw:rl:") -> None:
        self.store = store
        self._prefix = key_prefix

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        """Redis when ``redis_url`` is set (limits shared by all instances), else memory."""
        if settings.redis_url:
            return cls(RedisStore.from_url(settings.redis_url))
        return cls(MemoryStore())

    async def check(
        self,
        *,
        tenant_id: str,
        principal: str,
        plan: PlanLimits,
        kind: PrincipalKind = "member",
        cost: int = 1,
    ) -> Decision:
        """Spend ``cost`` from the tenant's and the principal's buckets (both or neither);
        the principal's bucket is sized by its ``kind`` (member, operator, apikey)."""
        tenant_key, principal_key = bucket_keys(tenant_id, principal)
        own = plan.principal_bucket(kind)
        buckets = [
            (self._prefix + tenant_key, TokenBucket(plan.tenant_rate, plan.tenant_burst)),
            (self._prefix + principal_key, TokenBucket(own.rate, own.burst)),
        ]
        decision = tightest(await self.store.take_all(buckets, cost))
        DECISIONS.labels(self.store.name, "allowed" if decision.allowed else "denied").inc()
        return decision

    async def aclose(self) -> None:
        await self.store.aclose()


def rate_limit_headers(decision: Decision) -> dict[str, str]:
    """``RateLimit-*`` headers (IETF httpapi draft, integer seconds) and ``Retry-After``."""
    headers = {
        "RateLimit-Limit": str(decision.limit),
        "RateLimit-Remaining": str(decision.remaining),
        "RateLimit-Reset": str(math.ceil(decision.reset_s)),
    }
    if not decision.allowed:
        headers["Retry-After"] = str(retry_after_seconds(decision))
    return headers


def retry_after_seconds(decision: Decision) -> int:
    # Rounded up, and at least 1: a client retrying sooner would only be denied again.
    return max(1, math.ceil(decision.retry_after_s))


def too_many_requests(decision: Decision) -> Problem:
    seconds = retry_after_seconds(decision)
    return Problem(
        429,
        "rate-limited",
        "Too Many Requests",
        f"Rate limit exceeded; retry after {seconds} s.",
        headers=rate_limit_headers(decision),
        retry_after_s=seconds,
    )
