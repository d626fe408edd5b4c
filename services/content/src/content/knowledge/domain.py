"""Search rules of the knowledge base, pure: how text becomes index grams, which posts
match a query, how they rank, and the snippet that shows why.

Chinese has no spaces between words, so words cannot be the unit. The index holds every
distinct character (1-gram) and every pair of adjacent characters (2-gram) of a post's
title, body and tags, per run of letters and digits (punctuation and spaces split runs).
A one-character query looks up its 1-gram; a longer one needs all its 2-grams, and the
candidates are then checked for the query as a contiguous substring (two 2-grams can be
present without being adjacent). Text is compared after NFKC (full-width ↔ half-width)
and case folding.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass

MAX_QUERY = 64  # characters of a query, after normalizing
SNIPPET = 60  # characters of a snippet around the first hit
TITLE_WEIGHT = 3.0  # a hit in the title counts as three in the body
FEATURED_BONUS = 1.0  # 精华 ranks above an otherwise equal post


class BadQuery(ValueError):
    """A query with no letters or digits, or too long."""


def _fold(char: str) -> str:
    return unicodedata.normalize("NFKC", char).casefold()


def normalize(text: str) -> str:
    return "".join(_fold(char) for char in text)


def runs(text: str) -> list[str]:
    """The runs of letters and digits of the normalized text, in order."""
    found: list[str] = []
    current: list[str] = []
    for char in normalize(text):
        if char.isalnum():
            current.append(char)
        elif current:
            found.append("".join(current))
            current = []
    if current:
        found.append("".join(current))
    return found


def grams(*texts: str) -> set[str]:
    """What the index stores for these texts: every distinct 1-gram and 2-gram of a run."""
    found: set[str] = set()
    for text in texts:
        for run in runs(text):
            found.update(run)
            found.update(run[i : i + 2] for i in range(len(run) - 1))
    return found


@dataclass(frozen=True)
class Query:
    terms: tuple[str, ...]  # the query's runs: each must occur as a substring

    @property
    def grams(self) -> frozenset[str]:
        """What a candidate must have in the index: a lone character's 1-gram, a longer
        term's 2-grams."""
        found: set[str] = set()
        for term in self.terms:
            if len(term) == 1:
                found.add(term)
            else:
                found.update(term[i : i + 2] for i in range(len(term) - 1))
        return frozenset(found)


def parse(text: str) -> Query:
    terms = tuple(dict.fromkeys(runs(text)))
    if not terms:
        raise BadQuery("the query has no letters or digits")
    if sum(len(term) for term in terms) > MAX_QUERY:
        raise BadQuery(f"the query is longer than {MAX_QUERY} characters")
    return Query(terms)


def hits(query: Query, text: str) -> list[tuple[int, int]]:
    """Where the query's terms occur in ``text``, as (start, end) offsets of the original
    text, sorted, overlaps merged. Empty when a term is missing."""
    folded, origin = _folded_with_origin(text)
    spans: list[tuple[int, int]] = []
    for term in query.terms:
        found = _occurrences(folded, term)
        spans.extend((origin[start], origin[end - 1] + 1) for start, end in found)
    return _merge(spans)


def matches(query: Query, *texts: str) -> bool:
    """Every term of the query occurs in one of the texts."""
    folded = [normalize(text) for text in texts]
    return all(any(term in text for text in folded) for term in query.terms)


def _folded_with_origin(text: str) -> tuple[str, list[int]]:
    """The normalized text and, per character of it, the offset in ``text`` it came from."""
    chars: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        for folded in _fold(char):
            chars.append(folded)
            origin.append(index)
    return "".join(chars), origin


def _occurrences(text: str, term: str) -> list[tuple[int, int]]:
    found: list[tuple[int, int]] = []
    start = text.find(term)
    while start >= 0:
        found.append((start, start + len(term)))
        start = text.find(term, start + 1)
    return found


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def score(title_hits: int, body_hits: int, body_length: int, *, featured: bool) -> float:
    """Ranking of a matching post: hits count with diminishing returns (the tenth mention
    adds less than the second), a title hit weighs more than a body hit, a hit in a short
    post more than in a long one, and 精华 ranks above an otherwise equal post."""
    weighted = TITLE_WEIGHT * title_hits + body_hits
    length_factor = 1.0 / (1.0 + math.log1p(max(body_length, 0) / 500))
    bonus = FEATURED_BONUS if featured else 0.0
    return math.log1p(weighted) * length_factor + bonus


@dataclass(frozen=True)
class Snippet:
    text: str
    highlights: tuple[tuple[int, int], ...]  # (start, end) offsets inside ``text``


def snippet(text: str, spans: list[tuple[int, int]], width: int = SNIPPET) -> Snippet:
    """About ``width`` characters of ``text`` around its first hit, with the hits inside
    it as offsets (the client marks them: no markup is mixed into user text). An ellipsis
    marks a cut."""
    if not spans:
        cut = text[:width]
        return Snippet(cut + ("…" if len(text) > width else ""), ())
    first = spans[0][0]
    start = max(0, min(first - width // 3, len(text) - width))
    end = min(len(text), start + width)
    prefix = "…" if start > 0 else ""
    inside = tuple(
        (max(s, start) - start + len(prefix), min(e, end) - start + len(prefix))
        for s, e in spans
        if s < end and e > start
    )
    return Snippet(prefix + text[start:end] + ("…" if end < len(text) else ""), inside)
