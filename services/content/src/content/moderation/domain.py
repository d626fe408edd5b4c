"""Auto-moderation: keyword and link rules, flood control (刷屏), and what they decide about
a member's post or comment. Pure: no I/O.

- **Text is compared normalised** (``normalise``): NFKC (full-width ＡＢＣ１２３ and
  half-width katakana become their usual forms), case folded, and every whitespace,
  control and format character (zero-width spaces, BOM) removed. A keyword matches as a
  substring of the normalised text, so "加 微 信", "加ｗｅｉ信" and "加WEI信" all meet the
  keyword "加wei信". The parts of an item (title, body, tags, ...) are matched one by one:
  a keyword never spans two parts.
- **Allow keywords are exceptions**: an occurrence of a block or hold keyword inside an
  occurrence of an allow keyword does not count ("傻瓜相机" allowed, "傻瓜" held).
- **Links by domain**: a rule's domain matches that host and its subdomains. The hosts of
  an item are those of its URLs (any scheme, full-width and 。 dots read as dots,
  international names in their ASCII form) and of bare ``www.`` names; other bare names
  (``example.com`` written without a scheme) meet only the rules naming them, not the
  catch-all ``*`` (so "node.js" is not a link). For a host, an allow rule wins over hold
  and block: ``*`` blocked with a few domains allowed is an allow-list.
- **The verdict** is the most severe hit: block, then hold; between rules of one severity
  the longer pattern (the more specific), then the smaller id.
- **Flood control**: at most ``max_items`` posts and comments by one member in one
  community within ``window``; the next is refused (or held) until the oldest of them
  leaves the window.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

MAX_PATTERN = 100  # characters of a rule's pattern as written
MAX_FORM = 300  # characters of its compared form (NFKC expands some characters: ㍿ → 株式会社)
MAX_RULES = 2000  # per tenant: the hot path reads them all


class RuleKind(StrEnum):
    KEYWORD = "keyword"
    LINK = "link"


class Action(StrEnum):
    BLOCK = "block"  # refused: nothing is written
    HOLD = "hold"  # written, held for review whatever the author's level
    ALLOW = "allow"  # an exception to the others


SEVERITY = {Action.ALLOW: 0, Action.HOLD: 1, Action.BLOCK: 2}
ANY_DOMAIN = "*"


class InvalidPattern(ValueError):
    pass


# ---------------------------------------------------------------- normalising


def _dropped(char: str) -> bool:
    # whitespace, controls (Cc), format characters such as U+200B/U+FEFF (Cf)
    return char.isspace() or unicodedata.category(char) in ("Cc", "Cf")


# What ``normalise`` removes, as a translation table (C speed on a 20,000-character body).
# The CJK and Hangul blocks (U+3400–U+9FFF) hold none of them; beyond the BMP only these
# ranges do (Unicode 15: Kaithi, Egyptian, shorthand and musical format controls, tags).
_SCANNED = (
    range(0x3400),
    range(0xA000, 0x10000),
    range(0x110BD, 0x110CE),
    range(0x13430, 0x13440),
    range(0x1BCA0, 0x1BCA4),
    range(0x1D173, 0x1D17B),
    range(0xE0000, 0xE0080),
)
_DROP = {code: None for block in _SCANNED for code in block if _dropped(chr(code))}


def normalise(text: str) -> str:
    """The form keywords are matched in: NFKC, case folded, no whitespace/format chars."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    # casefold may leave compatibility forms (ﬃ → ffi is fine; some need NFKC again)
    return unicodedata.normalize("NFKC", folded).translate(_DROP)


def keyword_pattern(pattern: str) -> str:
    found = normalise(pattern)
    if not found:
        raise InvalidPattern("a keyword needs a visible character")
    if len(found) > MAX_FORM:
        raise InvalidPattern(f"a keyword's normalised form is at most {MAX_FORM} characters")
    return found


_DOTS = str.maketrans({"。": ".", "．": ".", "｡": ".", "﹒": "."})
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def host_form(host: str) -> str | None:
    """A host name in the form rules compare: lower-case ASCII (IDNA), no trailing dot;
    None if it is not a host name."""
    host = unicodedata.normalize("NFKC", host).translate(_DOTS).strip().rstrip(".").casefold()
    if not host or len(host) > 253:
        return None
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    labels = ascii_host.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        return None
    return ascii_host


def domain_pattern(pattern: str) -> str:
    """A link rule's domain: ``example.com`` (with its subdomains), ``*.example.com`` (the
    same), ``*`` (every host), or a URL whose host is taken."""
    text = unicodedata.normalize("NFKC", pattern).strip()
    if text == ANY_DOMAIN:
        return ANY_DOMAIN
    if "://" in text:
        text = text.split("://", 1)[1]
    text = re.split(r"[/?#:]", text, maxsplit=1)[0]
    if text.startswith("*."):
        text = text[2:]
    found = host_form(text.lstrip("."))
    if found is None:
        raise InvalidPattern(f"{pattern!r} is not a domain (example.com, *.example.com or *)")
    return found


def pattern_form(kind: RuleKind, pattern: str) -> str:
    return keyword_pattern(pattern) if kind is RuleKind.KEYWORD else domain_pattern(pattern)


# ---------------------------------------------------------------- hosts of an item

# A URL: a scheme, then the authority up to a path, query, fragment, space or quote.
_URL = re.compile(r"[a-z][a-z0-9+.-]{0,20}://(?:[^\s/?#@\"'<>()\[\]]*@)?([^\s/?#:\"'<>()\[\]]+)")
# A bare name (ASCII only: Chinese text runs into names without a space): labels joined
# by dots, ending in a letter label (a TLD).
_BARE = re.compile(
    r"(?<![\w.@/-])((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{1,62})(?![\w-])",
    re.ASCII,
)


@dataclass(frozen=True)
class Hosts:
    linked: frozenset[str] = frozenset()  # from URLs and www. names: every rule applies
    bare: frozenset[str] = frozenset()  # bare names: only rules naming their domain


def hosts_in(parts: Iterable[str], links: Iterable[str] = ()) -> Hosts:
    """The hosts an item links to: ``links`` (URLs given as such) and what its text parts
    hold."""
    linked: set[str] = set()
    bare: set[str] = set()
    for url in links:
        for raw in _URL.findall(_readable(url)):
            _add_url_host(linked, raw)
    for part in parts:
        text = _readable(part)
        for raw in _URL.findall(text):
            _add_url_host(linked, raw)
        for raw in _BARE.findall(_URL.sub(" ", text)):
            _add(linked if raw.startswith("www.") else bare, raw)
    return Hosts(frozenset(linked), frozenset(bare - linked))


def _readable(text: str) -> str:
    return unicodedata.normalize("NFKC", text).translate(_DOTS).casefold()


def _add(into: set[str], raw: str) -> None:
    host = host_form(raw)
    if host is not None:
        into.add(host)


def _add_url_host(into: set[str], raw: str) -> None:
    """A URL's host. When Chinese text follows an ASCII name without a slash
    ("https://a.cn获取") the name is the ASCII part; an international name otherwise."""
    if not raw.isascii():
        prefix = re.match(r"[a-z0-9.-]*", raw, re.ASCII)
        host = host_form(prefix.group()) if prefix else None
        if host is not None:
            into.add(host)
            return
    _add(into, raw)


def domain_matches(domain: str, host: str, *, bare: bool = False) -> bool:
    if domain == ANY_DOMAIN:
        return not bare
    return host == domain or host.endswith("." + domain)


# ---------------------------------------------------------------- rules and verdicts


@dataclass(frozen=True)
class Rule:
    id: str
    kind: RuleKind
    pattern: str  # normalised (keyword) or host form (link)
    action: Action
    strike: bool = True  # the event asks onboarding to count a strike
    written: str = ""  # the pattern as the operator wrote it, for people

    @property
    def label(self) -> str:
        return self.written or self.pattern


@dataclass(frozen=True)
class Item:
    """What a member wrote, as text parts (title, body, tags, ...) and given links."""

    parts: tuple[str, ...]
    links: tuple[str, ...] = ()


@dataclass(frozen=True)
class Verdict:
    action: Action  # ALLOW: nothing to do
    rule: Rule | None = None  # the deciding rule
    hits: tuple[Rule, ...] = field(default=())  # every block/hold rule met

    @property
    def blocked(self) -> bool:
        return self.action is Action.BLOCK

    @property
    def held(self) -> bool:
        return self.action is Action.HOLD


PASS = Verdict(Action.ALLOW)


def _occurrences(text: str, needle: str) -> list[int]:
    found, start = [], text.find(needle)
    while start != -1:
        found.append(start)
        start = text.find(needle, start + 1)
    return found


def _keyword_hit(text: str, pattern: str, allowed: Sequence[tuple[int, int]]) -> bool:
    """Whether ``pattern`` occurs in ``text`` outside every allowed span."""
    for start in _occurrences(text, pattern):
        end = start + len(pattern)
        if not any(a <= start and end <= b for a, b in allowed):
            return True
    return False


@dataclass(frozen=True)
class RuleSet:
    """A tenant's rules arranged for matching, once per screened item: block and hold
    keywords by their first two characters (their only one for one-character keywords),
    so only those whose start occurs in the text are looked for (a text's characters and
    adjacent pairs are a set built in one pass: the work grows with the text, not with
    text × rules); allow words; link rules."""

    keywords: dict[str, tuple[Rule, ...]] = field(default_factory=dict, hash=False)
    allow_words: tuple[str, ...] = ()
    links: tuple[Rule, ...] = ()

    @classmethod
    def of(cls, rules: Iterable[Rule]) -> RuleSet:
        keywords: dict[str, list[Rule]] = {}
        allow, links = [], []
        for rule in rules:
            if rule.kind is RuleKind.LINK:
                links.append(rule)
            elif rule.action is Action.ALLOW:
                allow.append(rule.pattern)
            else:
                keywords.setdefault(rule.pattern[:2], []).append(rule)
        return cls({c: tuple(found) for c, found in keywords.items()}, tuple(allow), tuple(links))


def _as_set(rules: RuleSet | Sequence[Rule]) -> RuleSet:
    return rules if isinstance(rules, RuleSet) else RuleSet.of(rules)


def keyword_hits(rules: RuleSet | Sequence[Rule], parts: Iterable[str]) -> list[Rule]:
    """The block and hold keyword rules that occur in a part, outside allowed spans."""
    ruleset = _as_set(rules)
    if not ruleset.keywords:
        return []
    hits: dict[str, Rule] = {}
    for part in parts:
        text = normalise(part)
        starts = set(text) | {text[i : i + 2] for i in range(len(text) - 1)}
        found = [
            rule
            for start in starts & ruleset.keywords.keys()
            for rule in ruleset.keywords[start]
            if rule.id not in hits and rule.pattern in text
        ]
        if not found:
            continue
        spans = [
            (start, start + len(word))
            for word in ruleset.allow_words
            if word in text
            for start in _occurrences(text, word)
        ]
        for rule in found:
            if not spans or _keyword_hit(text, rule.pattern, spans):
                hits[rule.id] = rule
    return list(hits.values())


def link_hits(rules: RuleSet | Sequence[Rule], hosts: Hosts) -> list[Rule]:
    """Per host, the block and hold rules matching it unless an allow rule matches it."""
    links = _as_set(rules).links
    if not links:
        return []
    hits: dict[str, Rule] = {}
    seen = [(host, False) for host in hosts.linked] + [(host, True) for host in hosts.bare]
    for host, bare in seen:
        matching = [r for r in links if domain_matches(r.pattern, host, bare=bare)]
        if any(r.action is Action.ALLOW for r in matching):
            continue
        for rule in matching:
            hits.setdefault(rule.id, rule)
    return list(hits.values())


def _rank(rule: Rule) -> tuple[int, int, str]:
    specific = len(rule.pattern) if rule.pattern != ANY_DOMAIN else 0
    return (-SEVERITY[rule.action], -specific, rule.id)


def verdict(rules: RuleSet | Sequence[Rule], item: Item) -> Verdict:
    """What the rules decide about ``item``: the most severe hit, named."""
    ruleset = _as_set(rules)
    hits = keyword_hits(ruleset, item.parts)
    if ruleset.links:
        hits += link_hits(ruleset, hosts_in(item.parts, item.links))
    if not hits:
        return PASS
    ordered = tuple(sorted(hits, key=_rank))
    return Verdict(ordered[0].action, ordered[0], ordered)


# ---------------------------------------------------------------- flood control (刷屏)


@dataclass(frozen=True)
class FloodLimit:
    max_items: int  # posts and comments by one member in one community ...
    window: timedelta  # ... within this long
    action: Action = Action.BLOCK  # block (refuse) or hold what comes beyond the limit
    strike: bool = True

    def __post_init__(self) -> None:
        if self.max_items < 1:
            raise ValueError("a flood limit allows at least one item")
        if self.window <= timedelta(0):
            raise ValueError("a flood window is a positive time")
        if self.action is Action.ALLOW:
            raise ValueError("flood control blocks or holds")

    @property
    def label(self) -> str:
        return f"{self.max_items} in {int(self.window.total_seconds())}s"


def flooded_until(recent: Iterable[datetime], limit: FloodLimit, now: datetime) -> datetime | None:
    """When the member may write again if one more item now would break ``limit``, given
    the times of their recent items; None when it would not.

    The new item is allowed while fewer than ``max_items`` earlier items lie within the
    window ``(now - window, now]``; otherwise it waits until the oldest of the newest
    ``max_items`` leaves it."""
    inside = sorted((at for at in recent if now - limit.window < at <= now), reverse=True)
    if len(inside) < limit.max_items:
        return None
    return inside[limit.max_items - 1] + limit.window


def retry_after_seconds(until: datetime, now: datetime) -> int:
    """Whole seconds to wait (at least one), as ``Retry-After`` says it."""
    seconds = (until - now).total_seconds()
    return max(1, int(seconds) + (0 if seconds == int(seconds) else 1))
