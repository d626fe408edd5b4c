"""Unit tests for servicekit.problems and servicekit.observability on a tiny FastAPI app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import BaseModel

from servicekit import tracing
from servicekit.observability import (
    BodySizeLimitMiddleware,
    RequestContextMiddleware,
    _clean_request_id,
    json_ready,
)
from servicekit.problems import (
    MEDIA_TYPE,
    PROBLEM_TYPE_BASE,
    Problem,
    install_problem_handlers,
    status_problem,
)

LIMIT = 100
SECRET = "db-password=hunter2 in a very internal place"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
INCOMING = f"00-{TRACE}-00f067aa0ba902b7-01"


class Item(BaseModel):
    name: str
    count: int


def _make_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=LIMIT)
    app.add_middleware(RequestContextMiddleware, service="unit")
    app.state.calls = 0

    @app.get("/problem")
    async def problem() -> None:
        raise Problem(
            409,
            "points-exhausted",
            "Points exhausted",
            "only 3 points left",
            headers={"Retry-After": "7"},
            balance=3,
        )

    @app.get("/problem-without-detail")
    async def problem_without_detail() -> None:
        raise Problem(403, "forbidden", "Forbidden")

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError(SECRET)

    @app.get("/numbers/{number}")
    async def numbers(number: int, size: int = 10) -> dict[str, int]:
        return {"number": number, "size": size}

    @app.post("/items")
    async def items(request: Request, item: Item) -> dict[str, Any]:
        request.app.state.calls += 1
        return {"name": item.name, "count": item.count}

    @app.post("/raw")
    async def raw(request: Request) -> dict[str, int]:
        request.app.state.calls += 1
        return {"received": len(await request.body())}

    @app.get("/context")
    async def context() -> dict[str, str | None]:
        return {
            "request_id": tracing.current_request_id.get(),
            "traceparent": tracing.current_traceparent.get(),
        }

    return app


@pytest.fixture
def app() -> FastAPI:
    return _make_app()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://unit") as client:
        yield client


def _is_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == MEDIA_TYPE
    body: dict[str, Any] = response.json()
    assert body["type"] == PROBLEM_TYPE_BASE + slug
    assert body["status"] == status
    assert isinstance(body["title"], str)
    assert body["title"]
    return body


async def _chunks(total: int, size: int = 30) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        chunk = b"x" * min(size, total - sent)
        sent += len(chunk)
        yield chunk


async def test_a_raised_problem_answers_problem_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/problem", headers={"X-Request-Id": "req-123"})

    body = _is_problem(response, 409, "points-exhausted")
    assert body["title"] == "Points exhausted"
    assert body["detail"] == "only 3 points left"
    assert body["instance"] == "/problem"
    assert body["request_id"] == "req-123"
    assert body["balance"] == 3
    assert response.headers["retry-after"] == "7"
    assert response.headers["x-request-id"] == "req-123"


async def test_a_problem_without_detail_omits_it(client: httpx.AsyncClient) -> None:
    body = _is_problem(await client.get("/problem-without-detail"), 403, "forbidden")

    assert "detail" not in body
    assert body["request_id"]


async def test_an_unknown_route_is_a_404_problem(client: httpx.AsyncClient) -> None:
    body = _is_problem(await client.get("/nowhere"), 404, "not-found")

    assert body["title"] == "Not Found"
    assert body["instance"] == "/nowhere"
    assert body["request_id"]


async def test_a_wrong_method_is_a_405_problem_with_allow(client: httpx.AsyncClient) -> None:
    response = await client.delete("/problem")

    _is_problem(response, 405, "method-not-allowed")
    assert "GET" in response.headers["allow"]


async def test_an_invalid_path_parameter_is_a_422_problem(client: httpx.AsyncClient) -> None:
    body = _is_problem(await client.get("/numbers/abc?size=big"), 422, "validation-error")

    assert isinstance(body["errors"], list)
    locations = sorted(error["location"] for error in body["errors"])
    assert locations == [["path", "number"], ["query", "size"]]
    assert all(error["message"] for error in body["errors"])
    assert body["instance"] == "/numbers/abc"


async def test_an_invalid_json_body_is_a_422_problem(client: httpx.AsyncClient) -> None:
    response = await client.post("/items", json={"name": "x", "count": "many"})

    body = _is_problem(response, 422, "validation-error")
    assert [error["location"] for error in body["errors"]] == [["body", "count"]]


async def test_malformed_json_is_a_400_problem(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/items", content=b'{"name": ', headers={"content-type": "application/json"}
    )

    body = _is_problem(response, 400, "malformed-json")
    assert body["detail"] == "The request body is not valid JSON."


async def test_an_unexpected_error_is_a_500_problem_without_internals(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/boom", headers={"X-Request-Id": "req-500"})

    body = _is_problem(response, 500, "internal-error")
    assert SECRET not in response.text
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text
    assert "RuntimeError" not in response.text
    assert set(body) <= {"type", "title", "status", "detail", "instance", "request_id"}


# The 500 is answered inside the request context, so it carries the request id.
async def test_a_500_problem_carries_the_request_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/boom", headers={"X-Request-Id": "req-500"})

    assert response.status_code == 500
    assert response.headers.get("x-request-id") == "req-500"
    assert response.json().get("request_id") == "req-500"


async def test_a_declared_oversized_body_is_a_413_problem(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    response = await client.post("/raw", content=b"x" * (LIMIT + 1))

    body = _is_problem(response, 413, "payload-too-large")
    assert str(LIMIT) in body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]
    assert app.state.calls == 0


async def test_a_body_at_the_limit_passes(app: FastAPI, client: httpx.AsyncClient) -> None:
    response = await client.post("/raw", content=b"x" * LIMIT)

    assert response.status_code == 200
    assert response.json() == {"received": LIMIT}
    assert app.state.calls == 1


async def test_a_streamed_oversized_body_is_a_413_problem(client: httpx.AsyncClient) -> None:
    response = await client.post("/raw", content=_chunks(LIMIT * 3))

    assert "content-length" not in response.request.headers
    body = _is_problem(response, 413, "payload-too-large")
    assert str(LIMIT) in body["detail"]


async def test_a_streamed_body_under_the_limit_passes(client: httpx.AsyncClient) -> None:
    response = await client.post("/raw", content=_chunks(LIMIT - 10))

    assert response.status_code == 200
    assert response.json() == {"received": LIMIT - 10}


# FastAPI turns errors while parsing a body into 400, except HTTPExceptions: the limit
# raises one so that model endpoints answer 413 too.
async def test_a_streamed_oversized_body_to_a_model_endpoint_is_a_413(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    response = await client.post(
        "/items", content=_chunks(LIMIT * 3), headers={"content-type": "application/json"}
    )

    assert app.state.calls == 0
    _is_problem(response, 413, "payload-too-large")


async def test_the_request_id_is_echoed_when_given(client: httpx.AsyncClient) -> None:
    response = await client.get("/context", headers={"X-Request-Id": "abc-123"})

    assert response.headers["x-request-id"] == "abc-123"
    assert response.json()["request_id"] == "abc-123"


async def test_a_request_id_is_generated_when_absent(client: httpx.AsyncClient) -> None:
    first = await client.get("/context")
    second = await client.get("/context")

    generated = first.headers["x-request-id"]
    assert len(generated) == 32
    int(generated, 16)
    assert first.json()["request_id"] == generated
    assert second.headers["x-request-id"] != generated


@pytest.mark.parametrize("given", ["x" * 129, "bad\tid", ""])
async def test_an_unusable_request_id_is_replaced(client: httpx.AsyncClient, given: str) -> None:
    response = await client.get("/context", headers={"X-Request-Id": given})

    assert response.headers["x-request-id"] != given
    assert len(response.headers["x-request-id"]) == 32


def test_clean_request_id_rules() -> None:
    assert _clean_request_id("x" * 128) == "x" * 128
    assert _clean_request_id("x" * 129) != "x" * 129
    assert _clean_request_id("a\x00b") != "a\x00b"
    assert _clean_request_id("") != ""


async def test_traceparent_keeps_the_incoming_trace(client: httpx.AsyncClient) -> None:
    response = await client.get("/context", headers={"traceparent": INCOMING})

    outgoing = response.headers["traceparent"]
    assert tracing.trace_id(outgoing) == TRACE
    assert outgoing != INCOMING  # a new span of the same trace
    assert response.json()["traceparent"] == outgoing


@pytest.mark.parametrize("incoming", [None, "garbage", f"00-{'0' * 32}-00f067aa0ba902b7-01"])
async def test_a_new_trace_starts_without_a_valid_traceparent(
    client: httpx.AsyncClient, incoming: str | None
) -> None:
    headers = {"traceparent": incoming} if incoming else {}

    response = await client.get("/context", headers=headers)

    parsed = tracing.parse(response.headers["traceparent"])
    assert parsed is not None
    assert parsed[0] != "0" * 32


async def test_problems_carry_trace_headers_too(client: httpx.AsyncClient) -> None:
    response = await client.get("/nowhere", headers={"traceparent": INCOMING})

    assert response.status_code == 404
    assert tracing.trace_id(response.headers["traceparent"]) == TRACE


async def test_the_context_is_reset_after_the_request(client: httpx.AsyncClient) -> None:
    await client.get("/context", headers={"X-Request-Id": "leak-check"})

    assert tracing.current_request_id.get() is None
    assert tracing.current_traceparent.get() is None


def test_status_problem_for_statuses_without_a_slug() -> None:
    teapot = status_problem(418)
    unknown = status_problem(599, "odd")

    assert teapot.status_code == 418
    assert b'"type":"https://quanzi.dev/problems/http-418"' in teapot.body
    assert unknown.status_code == 599
    assert b'"title":"Error"' in unknown.body
    assert b'"detail":"odd"' in unknown.body


def test_json_ready() -> None:
    assert json_ready({"database": "ok", "broker": "ok"}) == (
        200,
        {"status": "ready", "checks": {"database": "ok", "broker": "ok"}},
    )
    status, body = json_ready({"database": "ok", "broker": "connecting"})
    assert status == 503
    assert body["status"] == "unavailable"
