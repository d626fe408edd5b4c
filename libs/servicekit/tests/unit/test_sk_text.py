"""One rule for control characters in every service's input: bodies, paths and queries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st
from pydantic import Field, ValidationError

from servicekit.problems import install_problem_handlers
from servicekit.text import Body, ControlCharacterMiddleware, Line, Text, forbidden_character

CONTROLS = [chr(c) for c in [*range(0x00, 0x20), 0x7F]]
BREAKS = ["\t", "\n", "\r"]


class Profile(Body):
    external_id: Line
    bio: Text = ""
    extra: dict[str, Any] = Field(default_factory=dict)


@pytest.mark.parametrize("char", CONTROLS)
def test_a_line_refuses_every_control_character(char: str) -> None:
    with pytest.raises(ValidationError):
        Profile(external_id=f"crm{char}42")


@pytest.mark.parametrize("char", [c for c in CONTROLS if c not in BREAKS])
def test_text_refuses_controls_other_than_line_breaks_and_tabs(char: str) -> None:
    with pytest.raises(ValidationError):
        Profile(external_id="m", bio=f"hello{char}")


def test_text_keeps_line_breaks_tabs_and_any_language() -> None:
    profile = Profile(external_id="小林-42 🎉", bio="早安\n\t第一行\r\n")
    assert profile.bio == "早安\n\t第一行\r\n"


def test_the_body_rule_reaches_free_form_json_and_its_keys() -> None:
    for extra in ({"nick": "a\x00b"}, {"k\nx": 1}, {"tags": ["ok", "\x1b[31m"]}):
        with pytest.raises(ValidationError, match="control character"):
            Profile(external_id="m", extra=extra)
    assert Profile(external_id="m", extra={"note": "两行\n文字"}).extra == {"note": "两行\n文字"}


def test_lone_surrogates_cannot_be_stored_and_are_refused() -> None:
    assert forbidden_character({"a": ["ok", "\ud800"]}) == "U+D800"


@given(st.text())
def test_forbidden_character_agrees_with_the_declared_patterns(value: str) -> None:
    as_line = forbidden_character(value, line=True) is None
    as_text = forbidden_character(value) is None
    surrogate = any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    assert as_line == (not surrogate and not any(c in CONTROLS for c in value))
    assert as_text == (not surrogate and not any(c in CONTROLS and c not in BREAKS for c in value))


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(ControlCharacterMiddleware)

    @app.get("/members/{member_id}")
    async def member(member_id: str, q: str = "") -> dict[str, str]:
        return {"id": member_id, "q": q}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client


@pytest.mark.parametrize(
    "url",
    [
        "/members/a%00b",
        "/members/a%0Ab",
        "/members/m?q=x%00",
        "/members/m?q=%1b",
        "/members/m?%00=1",
    ],
)
async def test_paths_and_queries_with_controls_are_a_400_problem(
    client: httpx.AsyncClient, url: str
) -> None:
    answer = await client.get(url)
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"].endswith("/control-character")


async def test_clean_paths_and_queries_pass(client: httpx.AsyncClient) -> None:
    answer = await client.get("/members/%E5%B0%8F%E6%9E%97?q=a+b%2Bc")
    assert answer.json() == {"id": "小林", "q": "a b+c"}
