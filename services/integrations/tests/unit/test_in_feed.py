"""The feed's cursor is opaque, round-trips, and refuses what it did not issue."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from integrations.feed import domain


@given(st.integers(0, 10**17))
def test_a_cursor_round_trips(seq: int) -> None:
    assert domain.position(domain.cursor(seq)) == seq


@pytest.mark.parametrize("bad", ["x", "!!!", "ZmVlZDp4", "bm90LWEtY3Vyc29y", "ZmVlZDotMQ"])
def test_foreign_cursors_are_refused(bad: str) -> None:
    with pytest.raises(domain.InvalidCursor):
        domain.position(bad)


def test_no_cursor_is_the_beginning() -> None:
    assert domain.position(None) == 0
    assert domain.position("") == 0


def test_selection() -> None:
    assert domain.selection([]) == (True, [], [])
    assert domain.selection(["*", "points.*"])[0]
    assert domain.selection(["membership.*", "points.credited"]) == (
        False,
        ["points.credited"],
        ["membership."],
    )
