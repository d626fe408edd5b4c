"""The one way a feature's pure rules say no: ``Refused(reason, detail)``.

Each feature names its reasons in its own ``Refusal`` enum (domain.py); its service turns a
refusal into the problem the API answers (the reason is the problem's slug)."""

from __future__ import annotations

from enum import StrEnum


class Refused(Exception):
    def __init__(self, reason: StrEnum, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
