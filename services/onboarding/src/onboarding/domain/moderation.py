"""The moderation ladder (禁言 → 封号): each new strike earns the next, harsher sanction.

Default: warning → mute 1 day → mute 7 days → mute 15 days → permanent ban. Strikes decay:
one older than the decay period no longer counts, so a member who behaved for a long time
starts again near the bottom of the ladder.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class SanctionKind(StrEnum):
    WARNING = "warning"
    MUTE = "mute"
    BAN = "ban"


@dataclass(frozen=True)
class Step:
    kind: SanctionKind
    duration: timedelta | None = None  # mutes only; a ban is permanent

    def __post_init__(self) -> None:
        if (self.kind is SanctionKind.MUTE) != (self.duration is not None):
            raise ValueError("a mute has a duration; warnings and bans have none")
        if self.duration is not None and self.duration <= timedelta(0):
            raise ValueError("a mute lasts a positive time")


@dataclass(frozen=True)
class Ladder:
    steps: Sequence[Step]
    strike_decay: timedelta = timedelta(days=90)

    def __post_init__(self) -> None:
        if not self.steps:
            raise ValueError("a ladder has at least one step")
        if self.strike_decay <= timedelta(0):
            raise ValueError("strikes decay after a positive time")

    def active_strikes(self, strikes: Iterable[datetime], now: datetime) -> int:
        return sum(1 for at in strikes if now - self.strike_decay < at <= now)

    def next_sanction(self, strikes: Iterable[datetime], now: datetime) -> Step:
        """The sanction for a new strike at ``now``, given the member's earlier strikes.

        Past the top of the ladder every further strike gets the top step again.
        """
        return self.steps[min(self.active_strikes(strikes, now), len(self.steps) - 1)]


DEFAULT_LADDER = Ladder(
    steps=(
        Step(SanctionKind.WARNING),
        Step(SanctionKind.MUTE, timedelta(days=1)),
        Step(SanctionKind.MUTE, timedelta(days=7)),
        Step(SanctionKind.MUTE, timedelta(days=15)),
        Step(SanctionKind.BAN),
    )
)
