"""The development-only test clock is refused where it could move real members' days."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from insights.settings import Settings
from servicekit.settings import Environment


def test_a_test_clock_is_refused_in_production() -> None:
    assert Settings(clock_offset_file="clock.txt").clock_offset_file == "clock.txt"
    production = {"environment": Environment.PRODUCTION, "secret_key": SecretStr("a-real-one")}
    with pytest.raises(ValidationError, match="test clock"):
        Settings(clock_offset_file="clock.txt", **production)  # type: ignore[arg-type]


def test_csv_cells_never_run_as_formulas() -> None:
    from insights.export import csv_response

    answer = csv_response("x.csv", ["name", "n"], [["=HYPERLINK(1)", -3], ["读书会", None]])
    text = bytes(answer.body).decode()
    assert text == "\ufeffname,n\r\n'=HYPERLINK(1),-3\r\n读书会,\r\n"
