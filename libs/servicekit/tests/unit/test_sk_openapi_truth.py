"""The OpenAPI says what the shared mechanisms enforce: problems, text rules, PATCH nulls."""

from __future__ import annotations

import re
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, StringConstraints, TypeAdapter, ValidationError

from servicekit.auth import CurrentPrincipal
from servicekit.problems import MEDIA_TYPE, document_problems, problem_responses
from servicekit.text import (
    LINE_PATTERN,
    LINE_REFUSED,
    NUL_FREE_PATTERN,
    TEXT_REFUSED,
    Body,
    Line,
    TextJson,
    document_text_rules,
    strings_follow,
    trimmed,
)
from servicekit.types import null_refused

PROBLEM = {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}


class Thing(Body):
    name: Line
    profile: dict[Line, TextJson] = {}  # noqa: RUF012


def _app() -> FastAPI:
    router = APIRouter()

    @router.get("/open")
    async def open_route() -> dict[str, str]:
        return {}

    @router.patch("/things/{thing_id}", responses=problem_responses({409: "The name is taken"}))
    async def update(
        thing_id: str, body: Thing, principal: CurrentPrincipal, q: str | None = None
    ) -> dict[str, str]:
        return {}

    app = FastAPI()
    app.include_router(router)
    return app


def _doc() -> dict[str, Any]:
    return document_text_rules(document_problems(_app().openapi()))


def test_each_route_lists_the_problems_of_its_kind_as_problem_json() -> None:
    doc = _doc()
    assert set(doc["paths"]["/open"]["get"]["responses"]) == {"200", "400"}
    answers = doc["paths"]["/things/{thing_id}"]["patch"]["responses"]
    assert set(answers) == {"200", "400", "401", "403", "404", "409", "413", "422"}
    assert answers["409"]["description"] == "The name is taken"
    assert all(answers[code]["content"] == PROBLEM for code in answers if code != "200")
    schemas = doc["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert schemas["Problem"]["required"] == ["type", "title", "status"]
    assert set(schemas["Problem"]["properties"]) >= {"type", "title", "status", "detail"}


def test_documenting_twice_changes_nothing() -> None:
    once = _doc()
    assert document_text_rules(document_problems(_doc())) == once


def test_path_and_query_strings_carry_the_line_rule() -> None:
    parameters = _doc()["paths"]["/things/{thing_id}"]["patch"]["parameters"]
    by_name = {p["name"]: p["schema"] for p in parameters}
    assert by_name["thing_id"]["pattern"] == LINE_PATTERN
    assert {"type": "string", "pattern": LINE_PATTERN} in by_name["q"]["anyOf"]


def test_constrained_keys_refuse_other_keys() -> None:
    profile = _doc()["components"]["schemas"]["Thing"]["properties"]["profile"]
    assert profile["propertyNames"] == {"pattern": LINE_PATTERN}
    assert profile["additionalProperties"] == {"$ref": "#/components/schemas/TextJson"}
    assert "patternProperties" not in profile


def test_free_json_is_validated_as_documented() -> None:
    adapter = TypeAdapter(dict[Line, TextJson])
    assert adapter.validate_python({"a": [1, "x\ny", {"b": None}]}) == {
        "a": [1, "x\ny", {"b": None}]
    }
    for bad in ({"a\n": 1}, {"a": ["\x00"]}, {"a": {"b": "\x07"}}):
        with pytest.raises(ValidationError):
            adapter.validate_python(bad)


class Patch(BaseModel):
    model_config = ConfigDict(json_schema_extra=null_refused(("name",)))
    name: str | None = None
    label: str | None = None


class PatchAllBut(BaseModel):
    model_config = ConfigDict(json_schema_extra=null_refused(all_but=("label",)))
    name: str | None = None
    label: str | None = None


@pytest.mark.parametrize("model", [Patch, PatchAllBut])
def test_patch_bodies_offer_null_only_where_it_clears(model: type[BaseModel]) -> None:
    properties = model.model_json_schema()["properties"]
    assert properties["name"]["type"] == "string" and "anyOf" not in properties["name"]
    assert {"type": "null"} in properties["label"]["anyOf"]


class Strict(BaseModel):
    model_config = ConfigDict(json_schema_extra=strings_follow(NUL_FREE_PATTERN))
    free: str
    coded: Annotated[str, StringConstraints(pattern=r"^[a-z]+$")] = "a"
    tags: list[str] = []


def test_a_body_wide_string_rule_reaches_every_free_string() -> None:
    properties = Strict.model_json_schema()["properties"]
    assert properties["free"]["pattern"] == NUL_FREE_PATTERN
    assert properties["tags"]["items"]["pattern"] == NUL_FREE_PATTERN
    assert properties["coded"]["pattern"] == "^[a-z]+$"  # its own rule stays


@pytest.mark.parametrize("refused", [TEXT_REFUSED, LINE_REFUSED + "|"])
@given(value=st.text(max_size=12))
def test_a_trimmed_value_passes_exactly_when_its_documented_pattern_matches(
    refused: str, value: str
) -> None:
    constraints = trimmed(1, 100, refused=refused)
    assert constraints.pattern is not None
    documented = re.search(constraints.pattern, value) is not None

    class Named(Body):  # trimmed fields live in bodies, whose rule applies first
        name: Annotated[str, constraints]

    try:
        Named.model_validate({"name": value})
        accepted = True
    except ValidationError:
        accepted = False
    assert accepted == documented, repr(value)


def test_blank_only_is_refused_and_blanks_around_are_trimmed() -> None:
    adapter = TypeAdapter(Annotated[str, trimmed(1, 10)])
    assert adapter.validate_python(" \u3000读书会\n") == "读书会"
    with pytest.raises(ValidationError):
        adapter.validate_python(" \x1c\n")


async def test_the_service_app_serves_the_documented_problems() -> None:
    from servicekit.app import ServiceSpec, create_service_app
    from servicekit.settings import ServiceSettings

    router = APIRouter()

    @router.get("/v1/svc/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        return {}

    settings = ServiceSettings(service_name="svc")
    app = create_service_app(ServiceSpec(settings=settings, title="svc", routers=[router]))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        doc = (await client.get("/openapi.json")).json()
        refused = await client.get("/v1/svc/things/a%01b")
    operation = doc["paths"]["/v1/svc/things/{thing_id}"]["get"]
    assert operation["parameters"][0]["schema"]["pattern"] == LINE_PATTERN
    assert refused.status_code == 400 and "400" in operation["responses"]
    assert refused.headers["content-type"] == MEDIA_TYPE
