"""Conversion by channel (渠道转化): which routing code, invite or campaign channel brings
members who pay and renew. Pure.

A membership belongs to the channel of its arrival (source kind, code, the code's
channel tag); it converts when it was ever paid, renewed or refunded. Rates are of the
channel's joins.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class ChannelKey:
    kind: str
    code: str | None
    channel: str | None

    def sort_key(self) -> tuple[str, str, str]:
        return (self.kind, self.code or "", self.channel or "")


@dataclass(frozen=True)
class Conversion:
    """One membership: its channel and how far it went."""

    channel: ChannelKey
    paid: bool
    renewed: bool
    refunded: bool


@dataclass(frozen=True)
class ChannelFigures:
    channel: ChannelKey
    joined: int
    paid: int
    renewed: int
    refunded: int

    @property
    def paid_rate(self) -> float:
        return round(self.paid / self.joined, 4) if self.joined else 0.0

    @property
    def renewed_rate(self) -> float:
        return round(self.renewed / self.joined, 4) if self.joined else 0.0


def funnel(memberships: Iterable[Conversion]) -> list[ChannelFigures]:
    """Per channel, most joins first (ties by channel)."""
    tally: dict[ChannelKey, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for m in memberships:
        row = tally[m.channel]
        row[0] += 1
        row[1] += m.paid
        row[2] += m.renewed
        row[3] += m.refunded
    figures = [ChannelFigures(key, *row) for key, row in tally.items()]
    return sorted(figures, key=lambda f: (-f.joined, f.channel.sort_key()))
