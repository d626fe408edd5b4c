"""Level-gated joining: the local view of rewards' levels, and who it admits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# Rewards starts every member at level 1; a member it never reported on is there.
BASE_LEVEL = 1


def admits(min_level: int | None, level: int) -> bool:
    """A community gated at ``min_level`` admits members at that level or above."""
    return min_level is None or level >= min_level


def supersedes(changed_at: datetime, known_at: datetime | None) -> bool:
    """Does a level change at ``changed_at`` replace the one known (changed at ``known_at``)?

    Per member the events arrive in order (keyed by member); a replayed dead letter may not,
    and an older level must never overwrite a newer one.
    """
    return known_at is None or changed_at >= known_at


@dataclass(frozen=True)
class Level:
    """A member's level as rewards last reported it, and when it changed."""

    level: int
    changed_at: datetime


def fold_level(known: Level | None, reported: Level) -> Level:
    """The level after a report: the report, unless a newer one is known."""
    return reported if known is None or supersedes(reported.changed_at, known.changed_at) else known
