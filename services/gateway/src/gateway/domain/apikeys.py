"""API key format and scopes.

A key reads ``qzk_<prefix>_<secret>``: the prefix (8 characters) is stored and
shown in lists so operators can tell keys apart; only a hash of the whole key is
stored, so a leaked database does not leak usable keys.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

KEY_PATTERN = re.compile(r"^qzk_([a-z2-7]{8})_([A-Za-z0-9_-]{32,64})$")


class Scope(StrEnum):
    READ = "read"
    MEMBERS_WRITE = "members:write"
    PAYMENTS_WRITE = "payments:write"


ALL_SCOPES = frozenset(Scope)


@dataclass(frozen=True)
class ParsedKey:
    prefix: str
    secret: str


def format_key(prefix: str, secret: str) -> str:
    return f"qzk_{prefix}_{secret}"


def parse_key(raw: str) -> ParsedKey | None:
    match = KEY_PATTERN.match(raw.strip())
    return ParsedKey(match.group(1), match.group(2)) if match else None


def unknown_scopes(scopes: frozenset[str]) -> frozenset[str]:
    return frozenset(scope for scope in scopes if scope not in ALL_SCOPES)
