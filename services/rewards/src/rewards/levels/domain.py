"""Levels from lifetime points: thresholds and names per tenant."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

# Lifetime points at which levels 1..9 start (the defaults).
DEFAULT_THRESHOLDS = (0, 5, 20, 65, 155, 515, 2015, 8015, 33015)
DEFAULT_NAMES = tuple(f"Lv{n}" for n in range(1, len(DEFAULT_THRESHOLDS) + 1))


@dataclass(frozen=True)
class LevelProgress:
    level: int
    name: str
    floor: int  # lifetime points where this level starts
    next_level_at: int | None  # None at the top level
    points_to_next: int | None
    percent: int  # 0..100 of the way from this level's floor to the next


@dataclass(frozen=True)
class LevelScheme:
    thresholds: tuple[int, ...] = DEFAULT_THRESHOLDS
    names: tuple[str, ...] = DEFAULT_NAMES

    def __post_init__(self) -> None:
        if not self.thresholds or self.thresholds[0] != 0:
            raise ValueError("the first level starts at 0 points")
        if any(b <= a for a, b in zip(self.thresholds, self.thresholds[1:], strict=False)):
            raise ValueError("thresholds must strictly increase")
        if len(self.names) != len(self.thresholds):
            raise ValueError("one name per level")

    def level_of(self, lifetime: int) -> int:
        """Level number, 1-based; lifetime below 0 cannot happen but counts as level 1."""
        return max(bisect_right(self.thresholds, lifetime), 1)

    def progress(self, lifetime: int) -> LevelProgress:
        level = self.level_of(lifetime)
        floor = self.thresholds[level - 1]
        if level == len(self.thresholds):
            return LevelProgress(level, self.names[level - 1], floor, None, None, 100)
        upper = self.thresholds[level]
        percent = (max(lifetime, 0) - floor) * 100 // (upper - floor)
        return LevelProgress(
            level, self.names[level - 1], floor, upper, upper - max(lifetime, 0), percent
        )
