"""The knowledge base's search rules, directly: grams, matching, ranking, snippets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from content.knowledge import domain

CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x4E40)
TEXT = st.text(alphabet=st.one_of(CJK, st.sampled_from("ab AB，。!1")), max_size=40)


def test_chinese_text_gives_characters_and_adjacent_pairs_per_run() -> None:
    assert domain.grams("打卡，社群") == {"打", "卡", "打卡", "社", "群", "社群"}


def test_full_width_and_case_fold_to_one_form() -> None:
    assert domain.normalize("ＳＯＰ打卡Ａ") == "sop打卡a"
    assert domain.parse("ＳＯＰ").terms == ("sop",)


def test_a_one_character_query_needs_its_character_a_longer_one_its_pairs() -> None:
    assert domain.parse("打").grams == {"打"}
    assert domain.parse("社群运营").grams == {"社群", "群运", "运营"}
    assert domain.parse("打卡 社群").grams == {"打卡", "社群"}


@pytest.mark.parametrize("text", ["", "  ", "，。！", "x" * (domain.MAX_QUERY + 1)])
def test_a_query_without_letters_or_too_long_is_refused(text: str) -> None:
    with pytest.raises(domain.BadQuery):
        domain.parse(text)


@given(TEXT, st.integers(0, 39), st.integers(1, 6))
def test_any_substring_of_a_run_is_found_through_the_index(text: str, at: int, size: int) -> None:
    """What the index promises: every term taken from the text needs only grams the text
    has, and the substring check then accepts it."""
    runs = domain.runs(text)
    if not runs:
        return
    run = runs[at % len(runs)]
    term = run[at % len(run) :][:size]
    query = domain.parse(term)
    assert query.grams <= domain.grams(text)
    assert domain.matches(query, text)
    assert domain.hits(query, text)


def test_pairs_present_but_apart_do_not_match() -> None:
    query = domain.parse("社群运营")
    text = "社群很好，群运不错，运营也行"
    assert query.grams <= domain.grams(text)  # the index lets it through ...
    assert not domain.matches(query, text)  # ... the substring check does not


def test_hits_are_offsets_in_the_original_text() -> None:
    text = "今天ＳＯＰ打卡，明天sop打卡"
    spans = domain.hits(domain.parse("sop打卡"), text)
    assert [text[s:e] for s, e in spans] == ["ＳＯＰ打卡", "sop打卡"]


@given(st.integers(0, 50), st.integers(0, 50), st.integers(0, 5000), st.booleans())
def test_more_hits_never_rank_lower(title: int, body: int, length: int, featured: bool) -> None:
    base = domain.score(title, body, length, featured=featured)
    assert domain.score(title + 1, body, length, featured=featured) > base
    assert domain.score(title, body + 1, length, featured=featured) > base
    assert domain.score(title, body, length, featured=True) >= base


@given(st.integers(1, 50), st.integers(0, 5000))
def test_a_title_hit_outweighs_a_body_hit(hits: int, length: int) -> None:
    assert domain.score(1, hits - 1, length, featured=False) > domain.score(
        0, hits, length, featured=False
    )


def test_a_hit_in_a_short_post_ranks_above_one_in_a_long_post() -> None:
    assert domain.score(0, 1, 50, featured=False) > domain.score(0, 1, 5000, featured=False)


@given(TEXT, st.text(alphabet=CJK, min_size=1, max_size=3))
def test_snippet_highlights_mark_the_query_inside_the_snippet(text: str, term: str) -> None:
    full = text + term + text
    query = domain.parse(term)
    shown = domain.snippet(full, domain.hits(query, full), width=20)
    assert shown.highlights
    for start, end in shown.highlights:
        assert domain.normalize(shown.text[start:end]) in domain.normalize(full)
    first_start, first_end = shown.highlights[0]
    assert term in shown.text[first_start:] or first_end - first_start < len(term)


def test_snippet_cuts_a_long_text_with_ellipses_around_the_hit() -> None:
    text = "前" * 100 + "打卡" + "后" * 100
    shown = domain.snippet(text, domain.hits(domain.parse("打卡"), text), width=30)
    assert shown.text.startswith("…") and shown.text.endswith("…")
    ((start, end),) = shown.highlights
    assert shown.text[start:end] == "打卡"
