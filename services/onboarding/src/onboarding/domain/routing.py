"""Capacity routing (群活码): fill the least-full group; overflow when every group is full."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

DEFAULT_CAPACITY = 500  # a chat group usually caps at 500 members


@dataclass(frozen=True)
class GroupLoad:
    group_id: str
    member_count: int
    capacity: int

    @property
    def has_room(self) -> bool:
        return self.member_count < self.capacity


def placement_order(groups: Iterable[GroupLoad]) -> list[GroupLoad]:
    """Groups with room, least full first (ties by id, so every replica tries the same order).

    Least full = the lowest fill ratio: a half-empty 500 group comes before a 2/3 full 3 group.
    """
    with_room = [g for g in groups if g.has_room]
    return sorted(with_room, key=lambda g: (g.member_count / g.capacity, g.group_id))


def choose_group(groups: Iterable[GroupLoad]) -> GroupLoad | None:
    ordered = placement_order(groups)
    return ordered[0] if ordered else None


def overflow_name(prefix: str, number: int) -> str:
    """Overflow groups are named by a running number: 读书会 3群 → prefix "读书会 ", "群"."""
    return f"{prefix}{number}"


@dataclass
class Simulation:
    """A whole routing run in memory: the rules the database code implements one join at a time."""

    groups: list[GroupLoad]
    overflow_prefix: str
    overflow_capacity: int
    overflow_count: int = 0

    def place(self) -> str:
        chosen = choose_group(self.groups)
        if chosen is None:
            self.overflow_count += 1
            chosen = GroupLoad(
                overflow_name(self.overflow_prefix, self.overflow_count), 0, self.overflow_capacity
            )
            self.groups.append(chosen)
        index = self.groups.index(chosen)
        self.groups[index] = GroupLoad(chosen.group_id, chosen.member_count + 1, chosen.capacity)
        return chosen.group_id

    def place_all(self, members: Sequence[str]) -> dict[str, str]:
        return {member: self.place() for member in members}
