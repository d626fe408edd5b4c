"""Retention cohorts (留存): members grouped by the local week they joined (weeks start on
Monday), and the share of each cohort active in week 1, 2, 4, 8 and 12 after it. Pure.

Week ``k`` of a cohort is the ``k``-th week after its join week: days
``[monday + 7k, monday + 7k + 7)``. A week that has not ended by ``today`` has no figure
yet (None), so a young cohort is never shown as having lost its members.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta

WEEKS = (1, 2, 4, 8, 12)


def week_of(day: date) -> date:
    """The Monday starting the week of ``day``."""
    return day - timedelta(days=day.weekday())


@dataclass(frozen=True)
class Cohort:
    week: date
    size: int
    retained: dict[int, int | None]  # week → members active in it; None: not ended yet

    def share(self, week: int) -> float | None:
        kept = self.retained.get(week)
        if kept is None:
            return None
        return round(kept / self.size, 4) if self.size else 0.0


def cohorts(
    joins: Iterable[tuple[Hashable, date]],
    active: Iterable[tuple[Hashable, date]],
    today: date,
    weeks: tuple[int, ...] = WEEKS,
) -> list[Cohort]:
    """``joins``: (member, join day); ``active``: (member, a day they engaged). A member
    who joined twice belongs to the cohort of the first join."""
    first: dict[Hashable, date] = {}
    for member, day in joins:
        if member not in first or day < first[member]:
            first[member] = day
    days: dict[Hashable, set[date]] = defaultdict(set)
    for member, day in active:
        if member in first:
            days[member].add(day)
    groups: dict[date, list[Hashable]] = defaultdict(list)
    for member, day in first.items():
        groups[week_of(day)].append(member)
    out = []
    for week in sorted(groups):
        members = groups[week]
        retained: dict[int, int | None] = {}
        for k in weeks:
            start = week + timedelta(days=7 * k)
            end = start + timedelta(days=7)
            if end - timedelta(days=1) > today:
                retained[k] = None
                continue
            retained[k] = sum(1 for m in members if any(start <= d < end for d in days.get(m, ())))
        out.append(Cohort(week, len(members), retained))
    return out
