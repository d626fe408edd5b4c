"""The directory's row rules and the import file readers (no database)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onboarding.directory.importer import (
    ImportFileError,
    batched,
    count_rows,
    csv_row,
    format_of,
    read_rows,
)
from onboarding.directory.service import (
    KEEP,
    MAX_PROFILE_KEYS,
    MemberUpsert,
    Outcome,
    RowResult,
    _apply,
    _Entry,
    merged_profile,
    parse_row,
)


def entry(**fields: object) -> _Entry:
    values: dict[str, object] = {
        "id": "m-1",
        "display_name": None,
        "profile": {},
        "tags": [],
        "exists": True,
        **fields,
    }
    return _Entry(**values)  # type: ignore[arg-type]


def test_a_row_parses_into_an_upsert() -> None:
    row = parse_row({"external_id": "c-1", "tags": ["a", "b", "a"], "profile": {"x": 1}})
    assert row == MemberUpsert("c-1", KEEP, {"x": 1}, ("a", "b"))
    cleared = parse_row({"external_id": "c-1", "display_name": None})
    assert isinstance(cleared, MemberUpsert) and cleared.display_name is None


@pytest.mark.parametrize(
    "raw",
    [
        {},
        "text",
        None,
        {"external_id": ""},
        {"external_id": "c", "extra": 1},
        {"external_id": "c", "profile": {"k": [1]}},
        {"external_id": "c", "profile": {f"k{i}": i for i in range(MAX_PROFILE_KEYS + 1)}},
        {"external_id": "c", "profile": {"k": "x" * 1001}},
        {"external_id": "c", "tags": ["a|b"]},
        {"external_id": "c", "tags": ["t"] * 51},
        {"external_id": "c\x00"},
    ],
)
def test_bad_rows_fail_with_a_422_problem(raw: object) -> None:
    result = parse_row(raw)
    assert isinstance(result, RowResult) and result.outcome is Outcome.FAILED
    assert result.status == 422 and result.problem is not None
    assert result.problem.extensions["errors"]


def test_profile_merges_and_null_removes() -> None:
    assert merged_profile({"a": 1, "b": 2}, {"b": None, "c": 3}) == {"a": 1, "c": 3}


def test_apply_reports_what_a_row_did() -> None:
    member = entry(exists=False)
    assert _apply(member, MemberUpsert("c", "A", {"x": 1}), bounded=True) is Outcome.CREATED
    assert _apply(member, MemberUpsert("c", "A", {"x": 1}), bounded=True) is Outcome.UNCHANGED
    assert _apply(member, MemberUpsert("c", tags=("t",)), bounded=True) is Outcome.UPDATED
    assert member.display_name == "A" and member.tags == ["t"] and member.changed
    known = entry(display_name="B", profile={"x": 1})
    assert _apply(known, MemberUpsert("c", profile={"x": 2}), bounded=True) is Outcome.UPDATED
    assert _apply(known, MemberUpsert("c", profile={"x": 1}), bounded=True) is Outcome.UPDATED
    assert not known.changed  # back where it started: nothing to write


def test_the_gateway_name_comes_from_the_profile() -> None:
    member = entry(display_name="Old")
    _apply(member, MemberUpsert("c", profile={"display_name": "小林"}), bounded=False)
    assert member.display_name == "小林"
    _apply(member, MemberUpsert("c", profile={"city": "杭州"}), bounded=False)
    assert member.display_name == "小林"


def test_a_merged_profile_beyond_the_bound_fails_the_row_only_when_bounded() -> None:
    full = {f"k{i}": i for i in range(MAX_PROFILE_KEYS)}
    row = MemberUpsert("c", profile={"one_more": 1})
    problem = _apply(entry(profile=dict(full)), row, bounded=True)
    assert not isinstance(problem, Outcome) and problem.status == 422
    assert _apply(entry(profile=dict(full)), row, bounded=False) is Outcome.UPDATED


# ---------------------------------------------------------------- import files


def test_csv_columns_map_to_a_row() -> None:
    record = {
        "external_id": " c-1 ",
        "display_name": "甲",
        "tags": "a| b ||",
        "city": "杭州",
        "x": "",
    }
    assert csv_row(record) == {
        "external_id": "c-1",
        "display_name": "甲",
        "tags": ["a", "b"],
        "profile": {"city": "杭州"},
    }


def test_csv_rows_carry_their_line_numbers() -> None:
    text = 'external_id,city\nc-1,"杭\n州"\nc-2,北京,extra\nc-3,\n'
    rows = list(read_rows(io.StringIO(text), "csv"))
    assert [(r.line, r.problem is None) for r in rows] == [(3, True), (4, False), (5, True)]
    assert rows[0].raw == {"external_id": "c-1", "profile": {"city": "杭\n州"}}
    with pytest.raises(ImportFileError):
        list(read_rows(io.StringIO("name\nx\n"), "csv"))


def test_jsonl_rows_skip_blank_lines_and_report_bad_json() -> None:
    text = '{"external_id": "a"}\n\n{oops\n[1]\n'
    rows = list(read_rows(io.StringIO(text), "jsonl"))
    assert [(r.line, r.problem is None) for r in rows] == [(1, True), (3, False), (4, True)]
    assert isinstance(parse_row(rows[2].raw), RowResult)  # valid JSON, not a row


def test_formats_and_counts(tmp_path: Path) -> None:
    assert format_of(Path("m.CSV"), None) == "csv" and format_of(Path("m.txt"), None) == "jsonl"
    assert format_of(Path("m.csv"), "jsonl") == "jsonl"
    with pytest.raises(ImportFileError):
        format_of(Path("m"), "xml")
    path = tmp_path / "m.csv"
    path.write_text("external_id\na\n\nb\n")
    assert count_rows(path, "csv") == 2 and count_rows(path, "jsonl") == 3


@given(st.lists(st.integers(), max_size=50), st.integers(1, 7))
def test_batches_keep_every_item_in_order(items: list[int], size: int) -> None:
    batches = list(batched(items, size))
    assert [x for batch in batches for x in batch] == items
    assert all(1 <= len(batch) <= size for batch in batches)
