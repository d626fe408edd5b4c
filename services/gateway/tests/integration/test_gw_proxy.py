"""The proxy over real HTTP: client → gateway (uvicorn) → upstreams (uvicorn)."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from fastapi import Request

from servicekit.devbroker import free_port
from servicekit.problems import Problem
from servicekit.testing import TokenMint


def _harness() -> ModuleType:
    name = "_gw_proxy_harness"
    if name not in sys.modules:
        path = Path(__file__).with_name("test_gw_proxy_harness.py")
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        sys.modules[name] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules[name]


h = _harness()
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


class Stack:
    def __init__(self, mint: TokenMint) -> None:
        self.mint = mint
        self.servers = h.ServerThread()
        self.onboarding = h.Upstream("onboarding")
        self.rewards = h.Upstream("rewards")
        self.upstreams = {
            "onboarding": self.servers.serve(self.onboarding.app()),
            "rewards": self.servers.serve(self.rewards.app()),
            "content": h.dead_url(),
        }
        self.seen: list[str | None] = []
        settings = h.gateway_settings(
            self.upstreams,
            route_timeouts_s={"/v1/onboarding/slow": 0.3, "/v1/rewards/me": 0.3},
            upstream_retries=2,
            breaker_failure_threshold=1000,  # the breaker has its own gateway below
        )
        app = h.gateway_app(settings, mint, before_forward=self._before_forward)
        self.url = self.servers.serve(app)
        self.client = httpx.Client(base_url=self.url, timeout=20)
        self.client.headers.pop("accept-encoding")  # what the gateway sends is then visible

    async def _before_forward(self, request: Request) -> None:
        self.seen.append(request.state.upstream)
        if request.headers.get("x-deny"):
            raise Problem(403, "forbidden", "Forbidden", "denied by the hook")

    def member(self) -> dict[str, str]:
        token = self.mint.mint(tenant_id="t-1", subject="m-1", typ="member", roles=["member"])
        return {"Authorization": f"Bearer {token}"}

    def close(self) -> None:
        self.client.close()
        self.servers.close()


@pytest.fixture(scope="module")
def stack(token_mint: TokenMint) -> Iterator[Stack]:
    running = Stack(token_mint)
    yield running
    running.close()


def echoed(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    body["header_map"] = {}
    for name, value in body["headers"]:
        body["header_map"].setdefault(name, []).append(value)
    return body


# --- forwarding ---------------------------------------------------------------------------


def test_path_and_query_arrive_exactly_as_sent(stack: Stack) -> None:
    seen = echoed(stack.client.get("/v1/onboarding/echo/a%2Fb/%E4%B8%AD?a=1&a=2&b=%2F%20x&c="))
    assert seen["raw_path"] == "/v1/onboarding/echo/a%2Fb/%E4%B8%AD"
    assert seen["query"] == "a=1&a=2&b=%2F%20x&c="


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_every_method_is_forwarded(stack: Stack, method: str) -> None:
    seen = echoed(stack.client.request(method, "/v1/onboarding/echo", content=b"12345"))
    assert (seen["method"], seen["body_length"]) == (method, 5)


def test_head_gets_the_headers_without_a_body(stack: Stack) -> None:
    response = stack.client.head("/v1/onboarding/echo")
    assert response.status_code == 200 and response.content == b""
    assert int(response.headers["content-length"]) > 0


def test_hop_by_hop_request_headers_stop_at_the_gateway(stack: Stack) -> None:
    seen = echoed(
        stack.client.get(
            "/v1/onboarding/echo",
            headers={
                "Connection": "keep-alive, X-Drop-Me",
                "X-Drop-Me": "1",
                "Keep-Alive": "timeout=300",
                "TE": "trailers",
                "Proxy-Authorization": "Basic eDp5",
                "X-Keep": "yes",
                "Authorization": "Bearer abc",
            },
        )
    )
    headers = seen["header_map"]
    for gone in ("connection", "x-drop-me", "keep-alive", "te", "proxy-authorization"):
        assert gone not in headers
    assert "accept-encoding" not in headers  # none added by the gateway's client either
    assert headers["x-keep"] == ["yes"] and headers["authorization"] == ["Bearer abc"]
    assert headers["host"] == [stack.upstreams["onboarding"].removeprefix("http://")]
    assert headers["x-forwarded-for"] == ["127.0.0.1"]
    assert headers["x-forwarded-proto"] == ["http"]
    assert headers["x-forwarded-host"] == [stack.url.removeprefix("http://")]


def test_hop_by_hop_response_headers_stop_at_the_gateway(stack: Stack) -> None:
    response = stack.client.get("/v1/onboarding/headers-out")
    assert response.status_code == 200 and response.text == "ok"
    for gone in ("x-internal", "keep-alive", "proxy-authenticate"):
        assert gone not in response.headers
    assert response.headers["x-kept"] == "yes"
    assert response.headers.get_list("set-cookie") == ["a=1", "b=2"]
    assert response.headers.get_list("x-request-id") == [response.headers["x-request-id"]]
    assert response.headers["x-request-id"] != "upstream-made-this-up"


def test_request_id_and_trace_reach_the_upstream(stack: Stack) -> None:
    response = stack.client.get(
        "/v1/onboarding/echo", headers={"X-Request-Id": "req-42", "traceparent": TRACEPARENT}
    )
    headers = echoed(response)["header_map"]
    assert headers["x-request-id"] == ["req-42"]
    assert response.headers["x-request-id"] == "req-42"
    (parent,) = headers["traceparent"]
    assert parent.split("-")[1] == TRACEPARENT.split("-")[1]  # same trace
    assert parent.split("-")[2] != TRACEPARENT.split("-")[2]  # the gateway's span
    assert response.headers["traceparent"] == parent


def test_compressed_answers_pass_through_untouched(stack: Stack) -> None:
    with stack.client.stream(
        "GET", "/v1/onboarding/gzip", headers={"Accept-Encoding": "gzip"}
    ) as response:
        raw = b"".join(response.iter_raw())
    assert response.headers["content-encoding"] == "gzip"
    assert gzip.decompress(raw) == b"squeezed " * 1000


def test_a_large_upload_streams_through(stack: Stack) -> None:
    stack.onboarding.upload_seen.clear()
    waited: list[bool] = []

    def body() -> Iterator[bytes]:
        yield h.CHUNK
        # The upstream has the first chunk while the client still holds the rest.
        waited.append(stack.onboarding.upload_seen.wait(5))
        for _ in range(127):
            yield h.CHUNK

    answer = stack.client.post("/v1/onboarding/upload", content=body())
    assert answer.status_code == 200, answer.text
    expected = hashlib.sha256(h.CHUNK * 128).hexdigest()
    assert answer.json()["sha256"] == expected and answer.json()["size"] == 128 * len(h.CHUNK)
    assert waited == [True]
    assert answer.json()["headers"].get("transfer-encoding") == "chunked"


def test_a_large_upload_keeps_its_declared_length(stack: Stack) -> None:
    payload = h.CHUNK * 40  # 2.5 MiB, beyond what is buffered
    answer = stack.client.put("/v1/onboarding/upload", content=payload)
    assert answer.json()["sha256"] == hashlib.sha256(payload).hexdigest()
    assert answer.json()["headers"]["content-length"] == str(len(payload))


def test_a_large_download_streams_through(stack: Stack) -> None:
    stack.onboarding.download_go.clear()
    digest, size = hashlib.sha256(), 0
    with stack.client.stream("GET", "/v1/onboarding/download?chunks=128") as response:
        for chunk in response.iter_raw():
            if size == 0:
                stack.onboarding.download_go.set()  # the rest is only made after this
            digest.update(chunk)
            size += len(chunk)
    assert stack.onboarding.download_waited is True
    assert size == 128 * len(h.CHUNK)
    assert digest.hexdigest() == hashlib.sha256(h.CHUNK * 128).hexdigest()


# --- failures -----------------------------------------------------------------------------


def test_a_slow_upstream_gives_a_504_problem_in_the_routes_time(stack: Stack) -> None:
    started = time.monotonic()
    response = stack.client.get("/v1/onboarding/slow?seconds=3")
    assert time.monotonic() - started < 2
    assert response.status_code == 504
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/upstream-timeout")


def test_a_dead_upstream_gives_a_502_problem(stack: Stack) -> None:
    response = stack.client.get("/v1/content/anything")
    assert response.status_code == 502
    assert response.json()["type"].endswith("/bad-gateway")
    assert response.json()["request_id"] == response.headers["x-request-id"]


def test_unknown_routes_are_404_problems(stack: Stack) -> None:
    response = stack.client.get("/v1/nowhere/x")
    assert response.status_code == 404
    assert response.json()["type"].endswith("/not-found")


def test_dot_segments_are_refused(stack: Stack) -> None:
    response = stack.client.get("/v1/onboarding/%2E%2E/rewards/echo")
    assert response.status_code == 400


def test_the_hook_runs_first_and_knows_the_upstream(stack: Stack) -> None:
    stack.seen.clear()
    before = stack.onboarding.hits["echo"]
    denied = stack.client.get("/v1/onboarding/echo", headers={"X-Deny": "1"})
    assert denied.status_code == 403 and denied.json()["detail"] == "denied by the hook"
    stack.client.get("/v1/nowhere/x")
    assert stack.seen == ["onboarding", None]
    assert stack.onboarding.hits["echo"] == before  # nothing reached the upstream


def test_get_is_retried_on_503_but_post_is_not(stack: Stack) -> None:
    got = stack.client.get("/v1/onboarding/flaky/get-1?fail=2")
    assert got.status_code == 200 and stack.onboarding.hits["get-1"] == 3
    posted = stack.client.post("/v1/onboarding/flaky/post-1?fail=2", json={})
    assert posted.status_code == 503 and stack.onboarding.hits["post-1"] == 1
    exhausted = stack.client.get("/v1/onboarding/flaky/get-2?fail=5")
    assert exhausted.status_code == 503 and stack.onboarding.hits["get-2"] == 3


def test_a_streamed_put_is_not_retried(stack: Stack) -> None:
    response = stack.client.put("/v1/onboarding/flaky/put-1?fail=1", content=h.CHUNK * 4)
    assert response.status_code == 503 and stack.onboarding.hits["put-1"] == 1
    small = stack.client.put("/v1/onboarding/flaky/put-2?fail=1", content=b"{}")
    assert small.status_code == 200 and stack.onboarding.hits["put-2"] == 2


def test_the_breaker_opens_then_recovers(token_mint: TokenMint) -> None:
    servers = h.ServerThread()
    port = free_port()
    upstream = f"http://127.0.0.1:{port}"
    settings = h.gateway_settings(
        {"activities": upstream},
        upstream_retries=0,
        breaker_failure_threshold=3,
        breaker_reset_s=0.5,
    )
    gateway = httpx.Client(base_url=servers.serve(h.gateway_app(settings, token_mint)))
    try:
        for _ in range(3):
            assert gateway.get("/v1/activities/echo").status_code == 502
        paused = gateway.get("/v1/activities/echo")
        assert paused.status_code == 503
        assert paused.headers["retry-after"] == "1"
        assert paused.json()["type"].endswith("/upstream-unavailable")
        servers.serve(h.Upstream("activities").app(), port)
        assert gateway.get("/v1/activities/echo").status_code == 503  # still open
        time.sleep(0.6)
        assert gateway.get("/v1/activities/echo").status_code == 200  # the trial
        assert gateway.get("/v1/activities/echo").status_code == 200
    finally:
        gateway.close()
        servers.close()


def test_replicas_share_the_load_and_one_that_dies_is_left_out(token_mint: TokenMint) -> None:
    """Two replicas of a service behind the gateway over real HTTP: requests alternate;
    one replica stopped, every request still answers 200 (a refused GET is retried on
    the other, and the dead one's circuit opens so POSTs stop going there)."""
    servers = h.ServerThread()
    first, second = h.Upstream("activities"), h.Upstream("activities")
    bases = [servers.serve(first.app()), servers.serve(second.app())]
    settings = h.gateway_settings(
        {"activities": ",".join(bases)},
        breaker_failure_threshold=1,
        breaker_reset_s=60,
        upstream_check_interval_s=0,  # the breaker alone, here
    )
    gateway = httpx.Client(base_url=servers.serve(h.gateway_app(settings, token_mint)))
    try:
        for _ in range(10):
            assert gateway.get("/v1/activities/echo").status_code == 200
        assert (first.hits["echo"], second.hits["echo"]) == (5, 5)
        servers.stop(bases[1])
        statuses = [gateway.get("/v1/activities/echo").status_code for _ in range(5)]
        statuses += [gateway.post("/v1/activities/echo").status_code for _ in range(5)]
        assert statuses == [200] * 10
        assert (first.hits["echo"], second.hits["echo"]) == (15, 5)
    finally:
        gateway.close()
        servers.close()


# --- /v1/me -------------------------------------------------------------------------------


def test_me_gathers_the_members_parts(stack: Stack) -> None:
    stack.onboarding.modes.clear()
    stack.rewards.modes.clear()
    headers = stack.member()
    answer = stack.client.get("/v1/me", headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["missing"] == []
    assert body["profile"]["part"] == "profile" and body["memberships"]["part"] == "memberships"
    assert body["points"]["service"] == "rewards"
    assert body["profile"]["auth"] == body["points"]["auth"] == headers["Authorization"]


def test_me_answers_without_a_slow_or_broken_part(stack: Stack) -> None:
    stack.rewards.modes["summary"] = "slow"
    stack.onboarding.modes["memberships"] = "404"
    try:
        started = time.monotonic()
        answer = stack.client.get("/v1/me", headers=stack.member())
        assert time.monotonic() - started < 1.5
    finally:
        stack.rewards.modes.clear()
        stack.onboarding.modes.clear()
    assert answer.status_code == 200
    body = answer.json()
    assert body["profile"]["part"] == "profile"
    assert body["memberships"] is None and body["points"] is None
    assert body["missing"] == [
        {"part": "memberships", "reason": "status 404"},
        {"part": "points", "reason": "timeout"},
    ]


def test_me_with_a_dead_service(token_mint: TokenMint) -> None:
    servers = h.ServerThread()
    rewards = h.Upstream("rewards")
    rewards.modes["summary"] = "garbage"
    settings = h.gateway_settings(
        {"onboarding": h.dead_url(), "rewards": servers.serve(rewards.app())}
    )
    gateway = httpx.Client(base_url=servers.serve(h.gateway_app(settings, token_mint)))
    token = token_mint.mint(tenant_id="t-1", typ="member")
    try:
        answer = gateway.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    finally:
        gateway.close()
        servers.close()
    assert answer.status_code == 200
    assert answer.json() == {
        "profile": None,
        "memberships": None,
        "points": None,
        "missing": [
            {"part": "profile", "reason": "unreachable"},
            {"part": "memberships", "reason": "unreachable"},
            {"part": "points", "reason": "invalid-json"},
        ],
    }


def test_me_is_for_members_only(stack: Stack) -> None:
    assert stack.client.get("/v1/me").status_code == 401
    operator = stack.mint.mint(tenant_id="t-1", typ="access", roles=["admin"])
    answer = stack.client.get("/v1/me", headers={"Authorization": f"Bearer {operator}"})
    assert answer.status_code == 403


def test_concurrent_requests_share_the_pool(stack: Stack) -> None:
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with httpx.Client(base_url=stack.url) as client:
                for _ in range(20):
                    assert client.get("/v1/rewards/echo?x=1").status_code == 200
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
