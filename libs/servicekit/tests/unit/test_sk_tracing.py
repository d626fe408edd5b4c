"""Unit tests for servicekit.tracing: W3C traceparent parsing and child spans."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servicekit import tracing

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
VALID = f"00-{TRACE}-{SPAN}-01"


def test_parse_splits_a_valid_header() -> None:
    assert tracing.parse(VALID) == (TRACE, SPAN, "01")


def test_parse_tolerates_case_and_surrounding_whitespace() -> None:
    assert tracing.parse(f"  {VALID.upper()} \n") == (TRACE, SPAN, "01")


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "garbage",
        f"01-{TRACE}-{SPAN}-01",  # unknown version
        f"ff-{TRACE}-{SPAN}-01",
        f"00-{TRACE[:-1]}-{SPAN}-01",  # short trace id
        f"00-{TRACE}0-{SPAN}-01",  # long trace id
        f"00-{TRACE}-{SPAN[:-1]}-01",  # short span id
        f"00-{TRACE}-{SPAN}-1",  # short flags
        f"00-{TRACE}-{SPAN}",  # no flags
        f"00-{TRACE[:-1]}g-{SPAN}-01",  # not hex
        f"00_{TRACE}_{SPAN}_01",
        f"00-{TRACE}-{SPAN}-01-extra",
        f"00-{'0' * 32}-{SPAN}-01",  # all-zero trace id
        f"00-{TRACE}-{'0' * 16}-01",  # all-zero span id
    ],
)
def test_parse_rejects_invalid_headers(header: str | None) -> None:
    assert tracing.parse(header) is None
    assert tracing.trace_id(header) is None


def test_trace_id_of_a_valid_header() -> None:
    assert tracing.trace_id(VALID) == TRACE


def test_child_keeps_trace_id_and_flags_with_a_new_span() -> None:
    child = tracing.child_of(f"00-{TRACE}-{SPAN}-00")
    parsed = tracing.parse(child)

    assert parsed is not None
    trace_id, span_id, flags = parsed
    assert trace_id == TRACE
    assert span_id != SPAN
    assert flags == "00"


@pytest.mark.parametrize("parent", [None, "", "garbage", f"00-{'0' * 32}-{SPAN}-01"])
def test_child_of_nothing_valid_starts_a_new_sampled_trace(parent: str | None) -> None:
    first, second = tracing.child_of(parent), tracing.child_of(parent)

    parsed = tracing.parse(first)
    assert parsed is not None
    assert parsed[2] == "01"
    assert parsed[0] != "0" * 32
    assert tracing.trace_id(first) != tracing.trace_id(second)


def test_child_of_upper_case_parent_emits_lower_case() -> None:
    child = tracing.child_of(VALID.upper())

    assert child == child.lower()
    assert tracing.trace_id(child) == TRACE


@given(
    trace_id=st.text(alphabet="0123456789abcdef", min_size=32, max_size=32).filter(
        lambda value: value != "0" * 32
    ),
    span_id=st.text(alphabet="0123456789abcdef", min_size=16, max_size=16).filter(
        lambda value: value != "0" * 16
    ),
    flags=st.text(alphabet="0123456789abcdef", min_size=2, max_size=2),
)
def test_children_of_children_stay_in_the_trace(trace_id: str, span_id: str, flags: str) -> None:
    parent = f"00-{trace_id}-{span_id}-{flags}"

    grandchild = tracing.child_of(tracing.child_of(parent))

    assert tracing.parse(grandchild) is not None
    assert tracing.trace_id(grandchild) == trace_id
    assert grandchild.endswith(f"-{flags}")


def test_context_variables_default_to_none() -> None:
    assert tracing.current_traceparent.get() is None
    assert tracing.current_request_id.get() is None
