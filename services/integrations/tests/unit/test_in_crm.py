"""CRM's pure rules: the field mapping (targets, keep/drop, explicit beats implicit, bad
mappings refused), a contact's bounds, the cut of a batch into events; and the
Idempotency-Key's fingerprint (same body, same key → same fingerprint)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integrations.crm import domain
from servicekit.idempotency import fingerprint

MAPPING = domain.FieldMapping({"mobile": "phone", "nickname": "display_name", "labels": "tags"})

names = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=12).filter(
    lambda s: s not in ("external_id", "tags")
)
values = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20))


def test_fields_are_mapped_to_the_member_and_chinese_names_kept() -> None:
    fields = {"mobile": "13800000000", "nickname": " 王小明 ", "city": "上海", "labels": ["VIP"]}
    row = domain.to_member("crm-1", fields, None, MAPPING)
    assert row == {
        "external_id": "crm-1",
        "display_name": "王小明",
        "profile": {"phone": "13800000000", "city": "上海"},
        "tags": ["VIP"],
    }
    assert json.loads(json.dumps(row, ensure_ascii=False)) == row


def test_unmapped_fields_are_dropped_when_asked_and_null_targets_always() -> None:
    mapping = domain.FieldMapping({"mobile": "phone", "secret": None}, unmapped="drop")
    row = domain.to_member("crm-1", {"mobile": "1", "secret": "x", "city": "上海"}, None, mapping)
    assert row == {"external_id": "crm-1", "profile": {"phone": "1"}}
    keep = domain.FieldMapping({"secret": None})
    assert domain.to_member("c", {"secret": "x", "a": 1}, None, keep)["profile"] == {"a": 1}


def test_absent_name_and_tags_are_kept_null_name_clears_null_values_remove() -> None:
    row = domain.to_member("c", {"nickname": None, "mobile": None}, None, MAPPING)
    assert row == {"external_id": "c", "display_name": None, "profile": {"phone": None}}
    assert "tags" not in domain.to_member("c", {}, None, MAPPING)
    assert domain.to_member("c", {}, ["读书", "读书", " vip "], MAPPING)["tags"] == ["读书", "vip"]


@pytest.mark.parametrize(
    ("fields", "tags"),
    [
        ({"nickname": 3}, None),  # a name is text
        ({"nickname": "  "}, None),
        ({"nickname": "名" * 201}, None),
        ({"labels": "VIP"}, None),  # tags are a list
        ({"labels": ["a|b"]}, None),
        ({"labels": ["x"]}, ["y"]),  # tags given twice
        ({"city": "长" * 1001}, None),
        ({"city": {"nested": 1}}, None),
        ({f"k{i}": i for i in range(51)}, None),  # too many profile fields
        ({f"k{i}": "字" * 999 for i in range(4)}, None),  # too many bytes
        ({"external_id": "x"}, None),  # kept under its own name: the key is not a field
    ],
)
def test_a_contact_outside_the_directory_bounds_is_refused(
    fields: dict[str, Any], tags: list[str] | None
) -> None:
    with pytest.raises(domain.InvalidContact):
        domain.to_member("c", fields, tags, MAPPING)


def test_bad_mappings_are_refused() -> None:
    assert domain.mapping_errors({"mobile": "phone", "nickname": "display_name"}) == []
    assert domain.mapping_errors({"a": "phone", "b": "phone"}) == [
        "'a' and 'b' both map to 'phone'"
    ]
    assert domain.mapping_errors({"a": "external_id"})
    assert domain.mapping_errors({"a\n": "b"})
    assert domain.mapping_errors({"a": None, "b": None}) == []


@settings(deadline=None)  # a shared machine: timing is not what is tested
@given(st.dictionaries(names, values, max_size=8), st.dictionaries(names, names, max_size=6))
def test_an_explicit_mapping_wins_and_every_field_lands_once(
    fields: dict[str, Any], mapped: dict[str, str]
) -> None:
    """Whatever the fields and the mapping (one target per field): every explicitly mapped
    field's value is at its target; an unmapped field is at its own name unless an explicit
    mapping took that name; nothing else appears."""
    clean: dict[str, str] = {}
    for source, target in mapped.items():
        if target not in clean.values():
            clean[source] = target
    mapping = domain.FieldMapping(clean)
    try:
        row = domain.to_member("c", fields, None, mapping)
    except domain.InvalidContact:
        return  # a name that is not text, or a blank one: refused as a whole
    name = {"display_name": row["display_name"]} if "display_name" in row else {}
    landed = {**row["profile"], **name}
    explicit = {t: fields[s] for s, t in mapping.fields.items() if s in fields and t is not None}
    for target, value in explicit.items():
        expected = value.strip() if target == "display_name" and isinstance(value, str) else value
        assert landed[target] == expected
    for name in fields:
        if name not in mapping.fields and name not in explicit:
            assert name in landed
    assert set(landed) <= set(explicit) | {n for n in fields if n not in mapping.fields}


@settings(deadline=None)
@given(
    st.lists(st.dictionaries(st.text(max_size=5), st.text(max_size=300), max_size=4), max_size=60),
    st.integers(min_value=200, max_value=3000),
)
def test_chunks_keep_order_and_stay_under_the_size(rows: list[dict[str, Any]], limit: int) -> None:
    runs = domain.chunks(rows, limit)
    assert [row for run in runs for row in run] == rows
    for run in runs:
        assert run
        assert len(run) == 1 or sum(domain.json_size(r) + 1 for r in run) <= limit


def test_the_same_body_has_the_same_fingerprint_and_another_body_another() -> None:
    body = {"contacts": [{"external_id": "c", "fields": {"nickname": "小林"}}]}
    same = json.loads(json.dumps(body))
    assert fingerprint("POST", "/p", body) == fingerprint("POST", "/p", same)
    other = {"contacts": [{"external_id": "c", "fields": {"nickname": "小李"}}]}
    assert fingerprint("POST", "/p", body) != fingerprint("POST", "/p", other)
    assert fingerprint("POST", "/p", body) != fingerprint("PUT", "/p", body)
