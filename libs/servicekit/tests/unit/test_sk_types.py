"""contains_nul: the guard that keeps U+0000 away from PostgreSQL text and JSON."""

from __future__ import annotations

import pytest

from servicekit.types import contains_nul


@pytest.mark.parametrize(
    "value",
    [
        "a\x00b",
        {"k": "v\x00"},
        {"k\x00": 1},
        ["ok", ["deep\x00"]],
        ("x", "\x00"),
        {"a": [{"b": "\x00"}]},
    ],
)
def test_nul_anywhere_is_found(value: object) -> None:
    assert contains_nul(value)


@pytest.mark.parametrize("value", ["中文", {"k": [1, 2.5, None, True]}, [], {}, 0, None, b"\x00"])
def test_clean_values_pass(value: object) -> None:
    # bytes are not text: they never reach a text column as such
    assert not contains_nul(value)
