"""Capacity routing (群活码): fill the least-full group the member may sit in; overflow when
every such group is full. Groups may require a tier and a level (eligibility below)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

DEFAULT_CAPACITY = 500  # a chat group usually caps at 500 members
TIER_RANK = {"trial": 0, "core": 1}  # a core member may sit wherever a trial member may


@dataclass(frozen=True)
class Requirements:
    """What a group asks of its members: a tier (trial = any) and a rewards level."""

    min_tier: str | None = None
    min_level: int | None = None


@dataclass(frozen=True)
class Candidate:
    """The member being placed: their membership's tier, their level, their city and tags."""

    tier: str = "core"
    level: int = 1
    city: str | None = None
    tags: frozenset[str] = frozenset()


ANYONE = Candidate()


@dataclass(frozen=True)
class GroupLoad:
    group_id: str
    member_count: int
    capacity: int
    requires: Requirements = Requirements()
    city: str | None = None
    tags: frozenset[str] = frozenset()
    name: str = ""

    @property
    def has_room(self) -> bool:
        return self.member_count < self.capacity


def meets(requires: Requirements, candidate: Candidate) -> bool:
    """Does the member meet a group's requirements? Unknown tiers rank lowest."""
    tier = TIER_RANK.get(candidate.tier, -1)
    if requires.min_tier is not None and tier < TIER_RANK.get(requires.min_tier, 0):
        return False
    return requires.min_level is None or candidate.level >= requires.min_level


def _matches(group: GroupLoad, candidate: Candidate) -> bool:
    """A group labelled with the member's city or one of their interests suits them better."""
    same_city = (
        group.city is not None
        and candidate.city is not None
        and group.city.casefold() == candidate.city.casefold()
    )
    return same_city or bool(group.tags & candidate.tags)


def placement_order(groups: Iterable[GroupLoad], candidate: Candidate = ANYONE) -> list[GroupLoad]:
    """Groups with room whose requirements the member meets: the ones labelled with their city
    or interests first, then least full first (ties by id, so every replica tries the same
    order). Least full = the lowest fill ratio: a half-empty 500 group comes before a 2/3 full
    3 group. Labels only order; they never exclude.
    """
    open_to_them = [g for g in groups if g.has_room and meets(g.requires, candidate)]
    return sorted(
        open_to_them,
        key=lambda g: (not _matches(g, candidate), g.member_count / g.capacity, g.group_id),
    )


def waiting_order(order: Sequence[GroupLoad], candidate: Candidate, spread: int) -> list[GroupLoad]:
    """The order a joiner waits in when every group of ``order`` (``placement_order``) was
    held: the leading groups that suit them equally (same label match) rotated by
    ``spread`` (a number of the joiner's own), the rest as they were. Joiners that all
    waited for the first group would queue on one row while the others stood free; spread
    over the equally suitable ones, every group seats someone at a time."""
    if not order:
        return []
    lead = _matches(order[0], candidate)
    size = next((n for n, g in enumerate(order) if _matches(g, candidate) != lead), len(order))
    turn = spread % size
    return [*order[turn:size], *order[:turn], *order[size:]]


def choose_group(groups: Iterable[GroupLoad], candidate: Candidate = ANYONE) -> GroupLoad | None:
    ordered = placement_order(groups, candidate)
    return ordered[0] if ordered else None


def overflow_template(groups: Iterable[GroupLoad], candidate: Candidate) -> GroupLoad | None:
    """The group an overflow group copies its requirements and labels from: of the code's
    groups the member may sit in, the most demanding (a core member's overflow is a core
    group, a trial member's a trial one). None: the member meets none of them, and an
    overflow group would not be theirs either."""
    theirs = [g for g in groups if meets(g.requires, candidate)]
    return max(theirs, key=_strictness, default=None)


def _strictness(group: GroupLoad) -> tuple[int, int, str]:
    tier = TIER_RANK.get(group.requires.min_tier or "trial", 0)
    return tier, group.requires.min_level or 0, group.group_id


@dataclass(frozen=True)
class AutoUpgrade:
    """A community's trial → core move: into a group of ``to_group_kind`` on payment and/or on
    reaching ``level``."""

    to_group_kind: str = "core"
    on: frozenset[str] = frozenset({"payment"})
    level: int | None = None

    @classmethod
    def of(cls, settings: dict[str, object] | None) -> AutoUpgrade | None:
        if not settings:
            return None
        level = settings.get("level")
        on = settings.get("on", ["payment"])
        return cls(
            to_group_kind=str(settings.get("to_group_kind", "core")),
            on=frozenset(str(x) for x in on) if isinstance(on, list) else frozenset(),
            level=level if isinstance(level, int) else None,
        )

    def on_payment(self) -> bool:
        return "payment" in self.on

    def on_level(self, level: int) -> bool:
        return "level" in self.on and self.level is not None and level >= self.level


def free_seats(groups: Iterable[GroupLoad]) -> int:
    return sum(max(0, group.capacity - group.member_count) for group in groups)


def needs_overflow_soon(
    groups: Iterable[GroupLoad],
    overflow_capacity: int,
    *,
    taken: GroupLoad | None = None,
    keep_open: int = 1,
) -> bool:
    """Open the next overflow group ahead of demand (``groups``: those a member may sit in;
    ``taken``: the one whose seat they just took):

    - when the free seats fall below a tenth of an overflow group, or of those groups'
      seats if fewer: joiners of a burst then find it open instead of queueing, one by
      one, on whoever holds the code while opening it (under ten seats, on demand only);
    - when fewer than ``keep_open`` groups have room (two or more wanted; groups of ten
      seats or more): a seat is a row lock held to the commit, so joiners seated one group
      at a time queue on one row. Measured before this rule: once the code's own groups
      were full, 2,405 of 3,000 joins of a burst found a single group with room. The cost:
      at the end of a burst up to that many groups stand part full.
    """
    groups = [
        replace(group, member_count=group.member_count + 1) if group is taken else group
        for group in groups
    ]
    size = min(overflow_capacity, sum(group.capacity for group in groups))
    if free_seats(groups) < size // 10:
        return True
    with_room = sum(1 for group in groups if group.has_room)
    return keep_open > 1 and size >= 10 and with_room < keep_open


# Seats taken at once in a burst past the code's own groups; more would leave more groups
# part full after it (a code of 30 groups kept 30 open: 50 groups for 3,000 seats).
KEEP_OPEN_AT_MOST = 3


def keep_open(code_groups: Iterable[GroupLoad], candidate: Candidate) -> int:
    """How many groups with room a routing code keeps for a member: as many of the groups
    it lists as they may sit in (it seats into them at once, least full first), at least
    one and at most ``KEEP_OPEN_AT_MOST``. Overflow groups it opened do not count: they
    replace full ones."""
    theirs = sum(1 for group in code_groups if meets(group.requires, candidate))
    return min(KEEP_OPEN_AT_MOST, max(1, theirs))


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
