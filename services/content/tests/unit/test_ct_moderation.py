"""Auto-moderation rules (content.moderation.domain): normalised keyword matching for
Chinese text, allow-word exceptions, links by domain with an allow-list, the verdict, and
flood control (刷屏). Property tests restate each rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from content.moderation.domain import (
    Action,
    FloodLimit,
    Hosts,
    InvalidPattern,
    Item,
    Rule,
    RuleKind,
    domain_matches,
    domain_pattern,
    flooded_until,
    hosts_in,
    keyword_hits,
    keyword_pattern,
    link_hits,
    normalise,
    retry_after_seconds,
    verdict,
)

CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)
ASCII_WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8)
KEYWORD = st.one_of(st.text(alphabet=CJK, min_size=1, max_size=5), ASCII_WORD)
NOISE = st.sampled_from([" ", "\u3000", "\t", "\n", "\u200b", "\ufeff", "\u00a0"])
TEXT = st.text(alphabet=st.one_of(CJK, st.sampled_from("abc ，。！ 1 ＡＢ")), max_size=30)
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def full_width(text: str) -> str:
    """ASCII letters and digits as their full-width forms (ＡＢＣ１２３)."""
    return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in text)


def kw(pattern: str, action: Action, rule_id: str = "r") -> Rule:
    return Rule(rule_id, RuleKind.KEYWORD, keyword_pattern(pattern), action, written=pattern)


def link(domain: str, action: Action, rule_id: str = "l") -> Rule:
    return Rule(rule_id, RuleKind.LINK, domain_pattern(domain), action, written=domain)


# ---------------------------------------------------------------- normalising


@given(TEXT)
def test_normalising_twice_changes_nothing(text: str) -> None:
    assert normalise(normalise(text)) == normalise(text)


@given(KEYWORD, TEXT, TEXT, st.data())
def test_a_keyword_is_found_through_spaces_width_and_case(
    word: str, before: str, after: str, data: st.DataObject
) -> None:
    """Whatever whitespace or zero-width characters sit between its characters, and in
    whichever width and case its letters are written, the keyword is met."""
    disguised = ""
    for char in word:
        char = data.draw(st.sampled_from([char, char.upper(), full_width(char)]))
        disguised += char + data.draw(st.text(alphabet=NOISE, max_size=2))
    rules = [kw(word, Action.BLOCK)]
    assert keyword_hits(rules, [before + disguised + after]) == rules


def test_examples_of_chinese_disguises() -> None:
    rules = [kw("加微信", Action.BLOCK, "wx"), kw("VX", Action.HOLD, "vx")]
    assert keyword_hits(rules, ["加 微　信"]) == [rules[0]]  # ideographic space
    assert keyword_hits(rules, ["加微\u200b信"]) == [rules[0]]  # zero-width space
    assert keyword_hits(rules, ["ｖｘ：abc"]) == [rules[1]]  # full-width, lower case
    assert keyword_hits(rules, ["加", "微信"]) == []  # two parts: never across them
    assert keyword_hits(rules, ["微信加我"]) == []


def test_a_pattern_needs_something_visible_and_a_domain_is_a_domain() -> None:
    for blank in ("", "  ", "\u200b", "\u3000", "\ufdfa" * 21):  # the last: 315 after NFKC
        with pytest.raises(InvalidPattern):
            keyword_pattern(blank)
    assert domain_pattern("*.Example.COM") == "example.com"
    assert domain_pattern("https://sub.example.com:8443/path?q") == "sub.example.com"
    assert domain_pattern("例子。中国") == "xn--fsqu00a.xn--fiqs8s"
    assert domain_pattern("*") == "*"
    for bad in ("localhost", "exa mple.com", "-a.com", "http://", "a..com"):
        with pytest.raises(InvalidPattern):
            domain_pattern(bad)


# ---------------------------------------------------------------- allow words


FILLER = st.text(alphabet="abc ，。！1", max_size=4)


@given(
    st.text(alphabet=CJK, min_size=1, max_size=3),
    st.text(alphabet=CJK, max_size=3),
    st.lists(st.tuples(FILLER, st.booleans()), max_size=5),
)
def test_an_allow_word_shields_the_keyword_inside_it(
    word: str, tail: str, segments: list[tuple[str, bool]]
) -> None:
    """A keyword counts only where it occurs outside every occurrence of an allow word:
    a text of filler, the allow word (holding the keyword) and the bare keyword is held
    exactly when the bare keyword is in it."""
    allowed = word + "相机" + tail
    rules = [kw(word, Action.HOLD, "w"), kw(allowed, Action.ALLOW, "a")]
    text = "".join(filler + "，" + (word if bare else allowed) + "，" for filler, bare in segments)
    expected = [rules[0]] if any(bare for _, bare in segments) else []
    assert keyword_hits(rules, [text]) == expected


# ---------------------------------------------------------------- links

LABEL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=6)


@given(LABEL, LABEL, st.lists(LABEL, max_size=3))
def test_a_domain_matches_itself_and_its_subdomains_only(
    name: str, other: str, subs: list[str]
) -> None:
    domain = f"{name}.com"
    host = ".".join([*subs, domain])
    assert domain_matches(domain, host)
    assert not domain_matches(domain, f"{other}{name}.com") or other == ""
    assert not domain_matches(domain, f"{name}.com.{other}.cn")


def test_hosts_of_chinese_text() -> None:
    text = (
        "资料见https://Docs.Example.com获取，或 www。spam。cn 和 readme.md"
        " 以及 ｈｔｔｐｓ：／／ａ．ｃｎ／ｘ"
    )
    found = hosts_in([text], ["https://t.cn/abc"])
    assert found.linked == {"docs.example.com", "www.spam.cn", "a.cn", "t.cn"}
    assert found.bare == {"readme.md"}


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a.com", "b.a.com", "c.cn", "*"]), st.sampled_from(list(Action))
        ),
        max_size=6,
    ),
    st.sampled_from(["a.com", "x.b.a.com", "c.cn", "d.org"]),
)
def test_an_allow_rule_wins_for_its_hosts(rules_spec: list[tuple[str, Action]], host: str) -> None:
    rules = [link(d, a, f"l{i}") for i, (d, a) in enumerate(rules_spec)]
    hits = link_hits(rules, Hosts(linked=frozenset({host})))
    matching = [r for r in rules if domain_matches(r.pattern, host)]
    if any(r.action is Action.ALLOW for r in matching):
        assert hits == []
    else:
        assert {r.id for r in hits} == {r.id for r in matching}


def test_the_catch_all_is_for_links_not_bare_names() -> None:
    rules = [link("*", Action.BLOCK, "all"), link("ok.cn", Action.ALLOW, "ok")]
    assert link_hits(rules, Hosts(bare=frozenset({"node.js"}))) == []
    assert link_hits(rules, Hosts(linked=frozenset({"x.io"}))) == [rules[0]]
    assert link_hits(rules, Hosts(linked=frozenset({"m.ok.cn"}))) == []
    named = [link("spam.cn", Action.HOLD, "s")]
    assert link_hits(named, Hosts(bare=frozenset({"spam.cn"}))) == named


# ---------------------------------------------------------------- verdict

RULES = st.lists(
    st.tuples(st.sampled_from(["广告", "微信", "傻", "vx"]), st.sampled_from(list(Action))),
    max_size=6,
    unique_by=lambda spec: spec[0],
)


@given(RULES, TEXT)
def test_the_verdict_is_the_most_severe_hit(specs: list[tuple[str, Action]], text: str) -> None:
    rules = [kw(word, action, f"r{i}") for i, (word, action) in enumerate(specs)]
    decided = verdict(rules, Item((text,)))
    hits = keyword_hits(rules, [text])
    if not hits:
        assert decided.action is Action.ALLOW and decided.rule is None
        return
    order = {Action.HOLD: 1, Action.BLOCK: 2}
    assert decided.action is max((r.action for r in hits), key=order.__getitem__)
    assert decided.rule is not None and decided.rule.action is decided.action
    assert set(decided.hits) == set(hits)


def test_between_rules_of_one_severity_the_more_specific_decides() -> None:
    rules = [
        link("*", Action.HOLD, "all"),
        link("x.cn", Action.HOLD, "x"),
        kw("加", Action.HOLD, "k"),
    ]
    assert verdict(rules, Item(("加 https://a.x.cn",))).rule == rules[1]


# ---------------------------------------------------------------- flood control

TIMES = st.lists(st.integers(min_value=0, max_value=600), max_size=12)


@given(TIMES, st.integers(min_value=1, max_value=6), st.integers(min_value=1, max_value=300))
def test_flood_allows_fewer_than_max_in_the_window_and_says_when(
    offsets: list[int], max_items: int, window_s: int
) -> None:
    now = T0 + timedelta(seconds=600)
    recent = [T0 + timedelta(seconds=s) for s in offsets]
    limit = FloodLimit(max_items, timedelta(seconds=window_s))
    inside = [at for at in recent if now - limit.window < at <= now]
    until = flooded_until(recent, limit, now)
    assert (until is None) == (len(inside) < max_items)
    if until is not None:
        assert until > now
        # exactly then one more fits, and not a microsecond before
        assert flooded_until(recent, limit, until) is None
        assert flooded_until(recent, limit, until - timedelta(microseconds=1)) is not None
        assert retry_after_seconds(until, now) >= 1


def test_a_flood_limit_is_a_real_limit() -> None:
    for bad in ((0, 60), (1, 0)):
        with pytest.raises(ValueError):
            FloodLimit(bad[0], timedelta(seconds=bad[1]))
    with pytest.raises(ValueError):
        FloodLimit(1, timedelta(seconds=1), Action.ALLOW)
    assert retry_after_seconds(T0 + timedelta(seconds=2.1), T0) == 3
    assert retry_after_seconds(T0 + timedelta(seconds=30), T0) == 30
