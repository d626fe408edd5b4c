"""Keyset cursors: what a client sends back is checked, an empty one is the first page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from servicekit.pagination import decode_cursor, keyset_after, next_cursor
from servicekit.problems import Problem


@dataclass
class Row:
    id: str
    created_at: datetime


def test_absent_and_empty_cursors_are_the_first_page() -> None:
    assert keyset_after(None) is None
    assert keyset_after("") is None


def test_a_cursor_round_trips_to_the_last_row_of_the_page() -> None:
    start = datetime(2026, 12, 3, tzinfo=UTC)
    rows = [Row(f"r{i}", start + timedelta(minutes=i)) for i in range(3)]
    cursor = next_cursor(rows, 2)
    assert cursor is not None and next_cursor(rows, 3) is None
    assert keyset_after(cursor) == (rows[1].created_at, "r1")


@pytest.mark.parametrize("cursor", ["x", "!!!", "W10", "WyJhIiwiYiJd", "WzEsMiwzXQ"])
def test_malformed_cursors_are_a_400_problem(cursor: str) -> None:
    with pytest.raises(Problem) as caught:
        keyset_after(cursor)
    assert caught.value.status == 400


def test_decode_checks_the_number_of_values() -> None:
    assert decode_cursor("WzEsMl0", 2) == [1, 2]
    with pytest.raises(Problem):
        decode_cursor("WzEsMl0", 3)
