"""Refresh token rotation with reuse detection (OAuth 2.0 Security BCP §4.14).

Each refresh token belongs to a family started at login. Using a token rotates
it: it is marked used and a new one of the same family is issued. Presenting a
used token again means it was stolen (or replayed): the whole family is revoked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Verdict(StrEnum):
    ROTATE = "rotate"
    REUSED = "reused"  # revoke the family
    REJECT = "reject"  # expired or revoked: refuse, nothing else to do


@dataclass(frozen=True)
class RefreshToken:
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None


def judge(token: RefreshToken, now: datetime) -> Verdict:
    if token.revoked_at is not None:
        return Verdict.REJECT
    if token.used_at is not None:
        return Verdict.REUSED
    if now >= token.expires_at:
        return Verdict.REJECT
    return Verdict.ROTATE
