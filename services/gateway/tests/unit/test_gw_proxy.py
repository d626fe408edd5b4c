"""Unit tests of the forwarding engine: headers, timeouts, retry policy, breaker wiring.

The engine is a fake here; tests/integration/test_gw_proxy.py does it over real HTTP.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import Response

from gateway.domain.circuit import State
from gateway.engines import ConnectFailed
from gateway.proxy import (
    IDEMPOTENT_METHODS,
    RETRY_BACKOFF_MAX_S,
    Proxy,
    RequestBody,
    UpstreamStreamingResponse,
    may_retry,
    request_headers,
    response_headers,
    retry_delay,
    to_response,
)
from gateway.routing import TimeoutTable
from gateway.settings import Settings
from servicekit.problems import Problem

# --- headers ------------------------------------------------------------------------------


def raw(*pairs: tuple[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.encode(), v.encode()) for k, v in pairs]


def test_request_headers_drop_hop_by_hop_and_those_connection_names() -> None:
    out = request_headers(
        raw(
            ("Host", "gw.example"),
            ("Connection", "keep-alive, X-Drop-Me"),
            ("X-Drop-Me", "1"),
            ("Keep-Alive", "timeout=5"),
            ("TE", "trailers"),
            ("Trailer", "x"),
            ("Transfer-Encoding", "chunked"),
            ("Upgrade", "websocket"),
            ("Proxy-Authorization", "Basic eA=="),
            ("Proxy-Connection", "keep-alive"),
            ("Content-Length", "12"),
            ("Expect", "100-continue"),
            ("Authorization", "Bearer t"),
            ("Set-Thing", "a"),
            ("Set-Thing", "b"),
        ),
        client_host="10.0.0.9",
        scheme="https",
        request_id=None,
        traceparent=None,
    )
    assert out == [
        ("authorization", "Bearer t"),
        ("set-thing", "a"),
        ("set-thing", "b"),
        ("x-forwarded-for", "10.0.0.9"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "gw.example"),
    ]


def test_request_headers_carry_the_gateways_request_id_and_span() -> None:
    out = dict(
        request_headers(
            raw(
                ("X-Request-Id", "forged"),
                ("traceparent", "00-" + "a" * 32 + "-" + "b" * 16 + "-01"),
                ("X-Forwarded-For", "1.2.3.4"),
                ("X-Forwarded-Proto", "gopher"),
            ),
            client_host="10.0.0.9",
            scheme="http",
            request_id="req-1",
            traceparent="00-" + "a" * 32 + "-" + "c" * 16 + "-01",
        )
    )
    assert out["x-request-id"] == "req-1"
    assert out["traceparent"].endswith("c" * 16 + "-01")
    assert out["x-forwarded-for"] == "1.2.3.4, 10.0.0.9"  # appended, as proxies do
    assert out["x-forwarded-proto"] == "http"


def test_response_headers_drop_hop_by_hop_and_the_gateways_own() -> None:
    out = response_headers(
        raw(
            ("Connection", "X-Internal"),
            ("X-Internal", "secret"),
            ("Keep-Alive", "timeout=5"),
            ("Transfer-Encoding", "chunked"),
            ("Proxy-Authenticate", "Basic"),
            ("Date", "yesterday"),
            ("Server", "uvicorn"),
            ("X-Request-Id", "theirs"),
            ("Content-Type", "application/json"),
            ("Content-Encoding", "gzip"),
            ("Set-Cookie", "a=1"),
            ("Set-Cookie", "b=2"),
        )
    )
    assert out == raw(
        ("content-type", "application/json"),
        ("content-encoding", "gzip"),
        ("set-cookie", "a=1"),
        ("set-cookie", "b=2"),
    )


# --- timeouts and retries -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "seconds"),
    [
        ("/v1/rewards/x", 2.0),
        ("/v1/rewards/reports", 30.0),
        ("/v1/rewards/reports/7", 30.0),
        ("/v1/rewards/reportsX", 2.0),
        ("/v1/content/x", 10.0),
        ("/v1/rewardsX", 10.0),
    ],
)
def test_route_timeout_is_the_longest_prefix_else_the_default(path: str, seconds: float) -> None:
    table = TimeoutTable({"/v1/rewards": 2.0, "/v1/rewards/reports": 30.0}, default=10.0)
    assert table.resolve(path) == seconds


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "PUT", "DELETE"])
@pytest.mark.parametrize("failure", ["connect", "transport", 502, 503, 504])
def test_idempotent_methods_are_retried_on_gateway_failures(method: str, failure: Any) -> None:
    assert may_retry(method, failure, attempt=0, retries=2, body_replayable=True)
    assert may_retry(method, failure, attempt=1, retries=2, body_replayable=True)
    assert not may_retry(method, failure, attempt=2, retries=2, body_replayable=True)
    assert not may_retry(method, failure, attempt=0, retries=2, body_replayable=False)


@pytest.mark.parametrize("method", ["POST", "PATCH"])
@pytest.mark.parametrize("failure", ["connect", "transport", 502, 503, 504])
def test_post_and_patch_are_never_retried(method: str, failure: Any) -> None:
    assert not may_retry(method, failure, attempt=0, retries=5, body_replayable=True)


@pytest.mark.parametrize("status", [200, 201, 400, 401, 404, 409, 429, 500, 501])
def test_other_answers_are_not_retried(status: int) -> None:
    assert not may_retry("GET", status, attempt=0, retries=5, body_replayable=True)


def test_backoff_is_small_growing_and_jittered() -> None:
    lows = [retry_delay(n, rand=lambda: 0.0) for n in range(8)]
    highs = [retry_delay(n, rand=lambda: 1.0) for n in range(8)]
    assert lows == sorted(lows) and highs == sorted(highs)
    assert all(low == high / 2 for low, high in zip(lows, highs, strict=True))
    assert highs[-1] == RETRY_BACKOFF_MAX_S


# --- the exchange over a fake engine ------------------------------------------------------


class FakeReply:
    def __init__(self, status: int, body: bytes = b"") -> None:
        self.status = status
        self.raw_headers: Sequence[tuple[bytes, bytes]] = raw(("content-length", str(len(body))))
        self.body = body
        self.closed = False

    async def read(self) -> bytes:
        return self.body

    async def chunks(self) -> AsyncIterator[bytes]:
        yield self.body

    async def aclose(self) -> None:
        self.closed = True


class FakeEngine:
    """Answers from a script: a status, an exception to raise, or "pull" (read the body)."""

    def __init__(self, *script: int | Exception) -> None:
        self.script = list(script)
        self.calls = 0
        self.urls: list[str] = []
        self.replies: list[FakeReply] = []

    async def send(
        self, method: str, url: str, headers: list[tuple[str, str]], body: Any, timeout_s: float
    ) -> FakeReply:
        self.calls += 1
        self.urls.append(url)
        if hasattr(body, "__anext__"):
            async for _ in body:  # a real engine sends the body before the answer
                pass
        step = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(step, Exception):
            raise step
        reply = FakeReply(step)
        self.replies.append(reply)
        return reply

    async def aclose(self) -> None:
        pass


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_proxy(engine: FakeEngine, clock: Clock | None = None, **overrides: Any) -> Proxy:
    defaults = {"upstream_retries": 2, "breaker_failure_threshold": 3}
    settings = Settings(
        **{"upstreams": {"rewards": "http://rewards"}, **defaults, **overrides},
        routes={"/v1/rewards": "rewards"},
    )
    return Proxy(settings, engine=engine, clock=clock or Clock())


def request(method: str = "GET", body: bytes | None = None, *, chunked: bool = False) -> Request:
    headers: list[tuple[bytes, bytes]] = []
    if body is not None:
        length = (b"content-length", b"%d" % len(body))
        headers.append((b"transfer-encoding", b"chunked") if chunked else length)
    messages = [{"type": "http.request", "body": body or b"", "more_body": False}]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    scope = {"type": "http", "method": method, "path": "/v1/rewards/x", "headers": headers}
    return Request(scope, receive)


async def exchange(proxy: Proxy, method: str = "GET", req: Request | None = None) -> Any:
    body = await RequestBody.of(req or request(method))
    return await proxy.exchange("rewards", method, "/v1/rewards/x", [], body, "/v1/rewards/x")


async def test_get_is_retried_on_503_and_the_discarded_answers_closed() -> None:
    engine = FakeEngine(503, 503, 200)
    reply = await exchange(make_proxy(engine))
    assert (reply.status, engine.calls) == (200, 3)
    assert [r.closed for r in engine.replies] == [True, True, False]


async def test_retries_stop_at_the_limit_and_the_last_answer_passes_through() -> None:
    engine = FakeEngine(503)
    reply = await exchange(make_proxy(engine, breaker_failure_threshold=100))
    assert (reply.status, engine.calls) == (503, 3)


@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_post_and_patch_go_once(method: str) -> None:
    engine = FakeEngine(503, 200)
    reply = await exchange(make_proxy(engine), method, request(method, b"{}"))
    assert (reply.status, engine.calls) == (503, 1)


async def test_connect_errors_end_in_a_502_problem_after_retries() -> None:
    engine = FakeEngine(ConnectFailed("refused"))
    with pytest.raises(Problem) as caught:
        await exchange(make_proxy(engine, breaker_failure_threshold=100))
    assert (caught.value.status, caught.value.slug, engine.calls) == (502, "bad-gateway", 3)


async def test_a_streamed_body_already_sent_is_never_sent_again() -> None:
    engine = FakeEngine(503, 200)
    req = request("PUT", b"x" * 10, chunked=True)  # no length: streamed
    reply = await exchange(make_proxy(engine), "PUT", req)
    assert (reply.status, engine.calls) == (503, 1)


async def test_a_small_idempotent_body_is_kept_and_resent() -> None:
    engine = FakeEngine(502, 200)
    reply = await exchange(make_proxy(engine), "PUT", request("PUT", b"x" * 10))
    assert (reply.status, engine.calls) == (200, 2)


async def test_a_timeout_is_a_504_problem_and_not_retried() -> None:
    engine = FakeEngine(TimeoutError())
    with pytest.raises(Problem) as caught:
        await exchange(make_proxy(engine))
    assert (caught.value.status, caught.value.slug, engine.calls) == (504, "upstream-timeout", 1)


async def test_no_retry_beyond_the_routes_budget() -> None:
    clock = Clock()
    engine = FakeEngine(503)

    async def slow_send(*args: Any) -> FakeReply:
        clock.now += 0.6  # each attempt eats more than half of the one-second budget
        return await FakeEngine.send(engine, *args)

    engine.send = slow_send  # type: ignore[method-assign]
    proxy = make_proxy(engine, clock, upstream_timeout_s=1.0, breaker_failure_threshold=100)
    reply = await exchange(proxy)
    assert (reply.status, engine.calls) == (503, 2)  # a third would start past the deadline


async def test_the_breaker_opens_and_answers_503_with_retry_after() -> None:
    clock = Clock()
    engine = FakeEngine(ConnectFailed("refused"))
    proxy = make_proxy(engine, clock, upstream_retries=0, breaker_reset_s=7)
    for _ in range(3):
        with pytest.raises(Problem):
            await exchange(proxy)
    with pytest.raises(Problem) as caught:
        await exchange(proxy)
    problem = caught.value
    assert (problem.status, problem.slug, engine.calls) == (503, "upstream-unavailable", 3)
    assert problem.headers == {"Retry-After": "7"}
    clock.now += 7
    engine.script = [200]
    assert (await exchange(proxy)).status == 200  # the trial
    assert (await exchange(proxy)).status == 200  # closed again
    await proxy.upstreams.stop()


async def test_a_ready_upstream_closes_the_open_circuit_without_waiting_for_the_reset() -> None:
    """A restarted service gets traffic as soon as its /readyz answers 200, not after the
    rest of the breaker's reset time; probes while it is down do not reopen anything."""
    clock = Clock()

    async def sleep(seconds: float) -> None:  # the probe's wait moves the test clock
        clock.now += seconds
        await asyncio.sleep(0)

    engine = FakeEngine(ConnectFailed("refused"))
    proxy = make_proxy(engine, clock, upstream_retries=0, breaker_reset_s=10)
    proxy.upstreams.sleep = sleep
    opened_at = clock.now
    for _ in range(3):
        with pytest.raises(Problem):
            await exchange(proxy)
    breaker = proxy.upstreams.replicas["rewards"].breaker("http://rewards")
    for _ in range(4):  # probes find it down: still open
        await asyncio.sleep(0)
    assert breaker.state(clock.now) is State.OPEN and engine.calls > 3
    engine.script = [200]  # the service is back and ready
    for _ in range(4):
        await asyncio.sleep(0)
    assert breaker.state(clock.now) is State.CLOSED
    assert clock.now - opened_at < 10  # well before the reset
    assert "http://rewards/readyz" in engine.urls
    reply = await exchange(proxy)
    assert reply.status == 200
    await proxy.upstreams.stop()


async def test_500_answers_do_not_open_the_breaker() -> None:
    engine = FakeEngine(500)
    proxy = make_proxy(engine, upstream_retries=0, breaker_failure_threshold=1)
    for _ in range(3):
        assert (await exchange(proxy)).status == 500


# --- bodies and responses -----------------------------------------------------------------


async def test_which_bodies_are_read_whole() -> None:
    assert (await RequestBody.of(request("GET"))).payload() is None
    assert (await RequestBody.of(request("POST", b"{}"))).payload() == b"{}"
    big = await RequestBody.of(request("PUT", b"x" * 70_000))
    assert big.length == "70000" and hasattr(big.payload(), "__anext__")
    chunked = await RequestBody.of(request("PUT", b"x", chunked=True))
    assert chunked.length is None and hasattr(chunked.payload(), "__anext__")


async def test_small_answers_are_buffered_large_ones_streamed() -> None:
    small = await to_response(FakeReply(200, b"hello"), "GET")
    assert type(small) is Response and small.body == b"hello"
    assert small.raw_headers == raw(("content-length", "5"))
    large = FakeReply(200, b"x" * 70_000)
    assert isinstance(await to_response(large, "GET"), UpstreamStreamingResponse)
    head = FakeReply(200, b"")
    head.raw_headers = raw(("content-length", "70000"))
    answer = await to_response(head, "HEAD")
    assert answer.raw_headers == raw(("content-length", "70000")) and head.closed


def test_idempotent_methods_are_the_rfc_ones_we_forward() -> None:
    assert frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}) == IDEMPOTENT_METHODS


# --- replicas -----------------------------------------------------------------------------


class ReplicaEngine(FakeEngine):
    """Answers by replica: a host listed in ``down`` refuses connections, one in
    ``not_ready`` serves requests but answers 503 on /readyz."""

    def __init__(self) -> None:
        super().__init__(200)
        self.down: set[str] = set()
        self.not_ready: set[str] = set()

    async def send(
        self, method: str, url: str, headers: list[tuple[str, str]], body: Any, timeout_s: float
    ) -> FakeReply:
        self.calls += 1
        self.urls.append(url)
        host = url.split("/")[2]
        if host in self.down:
            raise ConnectFailed("refused")
        ready = url.endswith("/readyz") and host in self.not_ready
        return FakeReply(503 if ready else 200)


def replicated(engine: ReplicaEngine, clock: Clock, **overrides: Any) -> Proxy:
    return make_proxy(
        engine, clock, upstreams={"rewards": "http://r0, http://r1, http://r2"}, **overrides
    )


def hosts(engine: ReplicaEngine) -> list[str]:
    return [url.split("/")[2] for url in engine.urls if not url.endswith("/readyz")]


async def test_requests_go_round_robin_over_the_replicas() -> None:
    engine = ReplicaEngine()
    proxy = replicated(engine, Clock())
    for _ in range(6):
        assert (await exchange(proxy)).status == 200
    assert hosts(engine) == ["r0", "r1", "r2", "r0", "r1", "r2"]


async def test_a_replica_that_refuses_is_retried_elsewhere_then_left_out() -> None:
    engine = ReplicaEngine()
    engine.down.add("r1")
    proxy = replicated(engine, Clock(), breaker_failure_threshold=2)
    for _ in range(8):
        assert (await exchange(proxy)).status == 200  # a refused GET goes to the next one
    sent = hosts(engine)
    assert sent.count("r1") == 2  # its circuit opened after two refusals
    assert sent[-4:].count("r1") == 0
    await proxy.upstreams.stop()


async def test_a_replica_that_is_not_ready_gets_nothing_until_it_is() -> None:
    clock = Clock()

    async def sleep(seconds: float) -> None:
        clock.now += seconds
        await asyncio.sleep(0)

    engine = ReplicaEngine()
    engine.not_ready.add("r2")
    proxy = replicated(engine, clock)
    proxy.upstreams.sleep = sleep
    await proxy.upstreams.check_replicas()
    for _ in range(4):
        await exchange(proxy)
    assert "r2" not in hosts(engine)
    engine.not_ready.clear()  # it becomes ready: its probe closes the circuit
    for _ in range(4):
        await asyncio.sleep(0)
    engine.urls.clear()
    for _ in range(3):
        await exchange(proxy)
    assert sorted(hosts(engine)) == ["r0", "r1", "r2"]
    await proxy.upstreams.stop()


async def test_when_no_replica_answers_ready_the_watch_leaves_them_serving() -> None:
    engine = ReplicaEngine()
    engine.not_ready.update({"r0", "r1", "r2"})  # e.g. every probe timed out on a busy host
    proxy = replicated(engine, Clock())
    await proxy.upstreams.check_replicas()
    for _ in range(3):
        assert (await exchange(proxy)).status == 200
    assert sorted(hosts(engine)) == ["r0", "r1", "r2"]
    await proxy.upstreams.stop()


async def test_every_replica_down_is_a_503_with_retry_after() -> None:
    engine = ReplicaEngine()
    engine.down.update({"r0", "r1", "r2"})
    proxy = replicated(engine, Clock(), breaker_failure_threshold=1, breaker_reset_s=5)
    with pytest.raises(Problem):
        await exchange(proxy)  # three refusals, one per replica: all open
    with pytest.raises(Problem) as caught:
        await exchange(proxy)
    assert (caught.value.status, caught.value.headers) == (503, {"Retry-After": "5"})
    await proxy.upstreams.stop()


def test_a_malformed_replica_list_is_refused_at_startup() -> None:
    with pytest.raises(ValueError):
        Settings(upstreams={"rewards": "http://r0,ftp://r1"}, routes={"/v1/rewards": "rewards"})
