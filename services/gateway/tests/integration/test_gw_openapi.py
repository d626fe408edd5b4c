"""The merged OpenAPI document: merge rules, then served live and fuzzed with schemathesis."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from gateway.openapi import MISSING_CACHE_S, merge, namespaced
from gateway.routing import RouteTable
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

# --- merge rules --------------------------------------------------------------------------


def spec(paths: dict[str, Any], schemas: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "x", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": schemas or {},
            "securitySchemes": {"HTTPBearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def op(ref: str | None = None, op_id: str = "op") -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": op_id,
        "tags": ["theirs"],
        "security": [{"HTTPBearer": []}],
        "responses": {"200": {"description": "ok"}},
    }
    if ref:
        schema = {"$ref": f"#/components/schemas/{ref}"}
        operation["responses"]["200"]["content"] = {"application/json": {"schema": schema}}
    return operation


TABLE = RouteTable(
    {"/v1/a": "a", "/v1/b": "b", "/v1/a/special": "b"}, {"a": "http://a", "b": "http://b"}
)


def test_components_are_namespaced_and_refs_follow() -> None:
    source = spec(
        {"/v1/a/x": {"get": op("Item")}},
        {
            "Item": {"properties": {"tag": {"$ref": "#/components/schemas/Tag"}}},
            "Tag": {"type": "string"},
            "Pet": {"discriminator": {"mapping": {"tag": "#/components/schemas/Tag"}}},
        },
    )
    out = namespaced(source, "a")
    assert set(out["components"]["schemas"]) == {"a.Item", "a.Tag", "a.Pet"}
    assert out["components"]["schemas"]["a.Item"]["properties"]["tag"]["$ref"] == (
        "#/components/schemas/a.Tag"
    )
    assert out["components"]["schemas"]["a.Pet"]["discriminator"]["mapping"]["tag"] == (
        "#/components/schemas/a.Tag"
    )
    response = out["paths"]["/v1/a/x"]["get"]["responses"]["200"]
    assert response["content"]["application/json"]["schema"]["$ref"].endswith("/a.Item")
    assert source["components"]["schemas"]["Item"]["properties"]["tag"]["$ref"].endswith("/Tag")


def test_each_path_once_from_its_route_owner() -> None:
    own = spec({"/v1/me": {"get": op(op_id="me")}})
    a = spec(
        {
            "/v1/a/x": {"get": op("Item", "x")},
            "/v1/a/special/y": {"get": op()},  # routed to b
            "/v1/b/z": {"get": op()},  # b's prefix
            "/v1/me": {"get": op()},  # the gateway's own
            "/internal": {"get": op()},
        },
        {"Item": {"type": "object"}},
    )
    b = spec({"/v1/a/special/y": {"get": op("Item", "y")}}, {"Item": {"type": "string"}})
    doc = merge(own, {"a": a, "b": b}, {"c": "unreachable"}, TABLE)
    assert set(doc["paths"]) == {"/v1/me", "/v1/a/x", "/v1/a/special/y"}
    assert doc["paths"]["/v1/me"]["get"]["operationId"] == "me"
    special = doc["paths"]["/v1/a/special/y"]["get"]
    assert special["tags"] == ["b"] and special["operationId"] == "b_y"
    assert doc["paths"]["/v1/a/x"]["get"]["tags"] == ["a"]
    assert doc["components"]["schemas"]["a.Item"] == {"type": "object"}
    assert doc["components"]["schemas"]["b.Item"] == {"type": "string"}
    assert doc["info"]["x-missing-services"] == ["c"]


def test_security_schemes_are_the_gateways() -> None:
    own = spec({"/v1/keys": {"post": {**op(), "security": [{"APIKeyHeader": []}]}}})
    own["components"]["securitySchemes"]["APIKeyHeader"] = {
        "type": "apiKey",
        "in": "header",
        "name": "X-Api-Key",
    }
    doc = merge(own, {"a": spec({"/v1/a/x": {"get": op()}})}, {}, TABLE)
    schemes = doc["components"]["securitySchemes"]
    assert set(schemes) == {"bearerAuth", "apiKey", "platformAdmin"}
    assert schemes["apiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-Api-Key",
        "description": schemes["apiKey"]["description"],
    }
    assert schemes["bearerAuth"]["bearerFormat"] == "JWT"
    # Through the gateway an API key works wherever a token does.
    assert doc["paths"]["/v1/a/x"]["get"]["security"] == [{"bearerAuth": []}, {"apiKey": []}]
    assert doc["paths"]["/v1/keys"]["post"]["security"] == [{"apiKey": []}]


def test_every_error_is_a_problem_and_each_route_lists_what_it_answers() -> None:
    validation = {
        "description": "Validation Error",
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}
        },
    }
    upstream = spec(
        {
            "/v1/a/things/{thing_id}": {
                "patch": {
                    **op(),
                    "parameters": [{"name": "thing_id", "in": "path", "required": True}],
                    "requestBody": {"content": {"application/json": {"schema": {}}}},
                    "responses": {
                        "200": {"description": "ok"},
                        "409": {"description": "Taken"},
                        "422": validation,
                    },
                }
            },
        },
        {"HTTPValidationError": {}, "ValidationError": {}, "Problem": {}},
    )
    own = spec({"/v1/open": {"post": {"responses": {"204": {"description": "done"}}}}})
    doc = merge(own, {"a": upstream}, {}, TABLE)
    schemas = doc["components"]["schemas"]
    assert "Problem" in schemas and not any(name.endswith("ValidationError") for name in schemas)
    assert "a.Problem" not in schemas  # one Problem schema for the platform
    answers = doc["paths"]["/v1/a/things/{thing_id}"]["patch"]["responses"]
    assert set(answers) == {"200", "400", "401", "403", "404", "409", "413", "422", "429"} | {
        "502",
        "503",
        "504",
    }
    assert answers["409"]["description"] == "Taken"
    for code, answer in answers.items():
        if int(code) >= 400:
            assert answer["content"] == {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            }, code
    # Not protected, no path id, no upstream: malformed input and the rate limit only.
    assert set(doc["paths"]["/v1/open"]["post"]["responses"]) == {"204", "400", "429"}
    problem = schemas["Problem"]
    assert {"type", "title", "status", "detail", "instance", "errors"} <= set(problem["properties"])
    assert problem["required"] == ["type", "title", "status"]


# --- served live --------------------------------------------------------------------------


class Docs:
    def __init__(self, mint: TokenMint) -> None:
        self.servers = h.ServerThread()
        self.content_port_url = h.dead_url()
        upstreams = {
            "onboarding": self.servers.serve(h.Upstream("onboarding").app()),
            "rewards": self.servers.serve(h.Upstream("rewards").app()),
            "content": self.content_port_url,
        }
        self.app = h.gateway_app(h.gateway_settings(upstreams), mint)
        self.url = self.servers.serve(self.app)
        self.token = mint.mint(tenant_id="t-1", typ="member")

    def close(self) -> None:
        self.servers.close()


@pytest.fixture(scope="module")
def docs(token_mint: TokenMint) -> Iterator[Docs]:
    running = Docs(token_mint)
    yield running
    running.close()


def test_the_merged_document_is_served(docs: Docs) -> None:
    doc = httpx.get(docs.url + "/openapi.json").json()
    assert doc["info"]["x-missing-services"] == ["content"]
    assert set(doc["paths"]) == {
        "/v1/me",
        "/v1/onboarding/items",
        "/v1/onboarding/items/{item_id}",
        "/v1/onboarding/search",
        "/v1/rewards/items",
        "/v1/rewards/items/{item_id}",
        "/v1/rewards/search",
    }
    schemas = doc["components"]["schemas"]
    assert {"onboarding.Item", "rewards.Item", "onboarding.StoredItem", "Me"} <= set(schemas)
    create = doc["paths"]["/v1/onboarding/items"]["post"]
    assert create["tags"] == ["onboarding"]
    body = create["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/onboarding.Item"}
    assert doc["paths"]["/v1/me"]["get"]["security"] == [{"bearerAuth": []}]
    page = httpx.get(docs.url + "/docs")
    assert page.status_code == 200 and "/openapi.json" in page.text


def test_a_missing_service_appears_once_it_answers(docs: Docs) -> None:
    docs_cache = docs.app.state.docs
    now = [0.0]
    docs_cache.clock = lambda: now[0]
    docs_cache.invalidate()
    assert "content" in httpx.get(docs.url + "/openapi.json").json()["info"]["x-missing-services"]
    port = int(docs.content_port_url.rsplit(":", 1)[1])
    content = docs.servers.serve(h.Upstream("content").app(), port)
    try:
        cached = httpx.get(docs.url + "/openapi.json").json()
        assert cached["info"]["x-missing-services"] == ["content"]  # still the cached one
        now[0] += MISSING_CACHE_S
        fresh = httpx.get(docs.url + "/openapi.json").json()
        assert fresh["info"]["x-missing-services"] == []
        assert "/v1/content/items" in fresh["paths"]
    finally:
        docs.servers.stop(content)
        docs_cache.invalidate()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_request_described_by_the_document_gets_a_5xx(docs: Docs, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_url(docs.url + "/openapi.json")
    headers = {"Authorization": f"Bearer {docs.token}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 7
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=15,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def call(case: Any) -> None:
            response = case.call(base_url=docs.url, headers=headers, timeout=10)
            assert response.status_code < 500, (case.method, case.formatted_path, response.text)

        call()
