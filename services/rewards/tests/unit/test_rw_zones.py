"""Local days: every instant falls in exactly one local day of a zone, days are 23, 24 or
25 hours long across DST, and the offsets a query uses give the same days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from rewards.zones.domain import (
    DEFAULT_ZONE,
    TENANT_SCOPE,
    Zones,
    day_bounds,
    day_start,
    days_bounds,
    known_zone,
    local_day,
    offsets,
    zone,
)

# DST in both hemispheres, half-hour offsets, a midnight that DST skips (Santiago,
# Havana) or repeats (Beirut), no DST at all (Shanghai), the date line (Apia, Kiritimati).
ZONES = [
    "Asia/Shanghai",
    "America/New_York",
    "Europe/London",
    "Australia/Sydney",
    "America/Santiago",
    "America/Havana",
    "Asia/Beirut",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Pacific/Apia",
    "Pacific/Kiritimati",
    "UTC",
]
instants = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2060, 1, 1)).map(
    lambda naive: naive.replace(tzinfo=UTC)
)
names = st.sampled_from(ZONES)
NEW_YORK = zone("America/New_York")


@given(at=instants, name=names)
def test_every_instant_falls_in_exactly_one_local_day(at: datetime, name: str) -> None:
    tz = zone(name)
    day = local_day(at, tz)
    start, end = day_bounds(day, tz)
    assert start <= at < end
    # Not in the day before nor the day after: days meet without gap or overlap.
    assert day_bounds(day - timedelta(days=1), tz)[1] == start
    assert day_bounds(day + timedelta(days=1), tz)[0] == end
    assert local_day(start, tz) == day and local_day(end - timedelta(microseconds=1), tz) == day


@given(day=st.dates(min_value=date(1990, 1, 1), max_value=date(2060, 1, 1)), name=names)
def test_a_day_is_between_22_and_26_hours_and_starts_at_its_midnight(day: date, name: str) -> None:
    tz = zone(name)
    start, end = day_bounds(day, tz)
    if start == end:  # a day the zone skipped (Apia, 2011-12-30): no instant is in it
        assert local_day(start, tz) == day + timedelta(days=1)
        return
    assert timedelta(hours=22) <= end - start <= timedelta(hours=26)
    local = start.astimezone(tz)
    assert local.date() == day
    # Midnight, or the first instant after a gap that swallowed it.
    assert local.time().minute == 0 and local.hour in (0, 1)


def test_new_york_has_a_23_and_a_25_hour_day_in_2026() -> None:
    spring = day_bounds(date(2026, 3, 8), NEW_YORK)
    autumn = day_bounds(date(2026, 11, 1), NEW_YORK)
    assert spring == (datetime(2026, 3, 8, 5, tzinfo=UTC), datetime(2026, 3, 9, 4, tzinfo=UTC))
    assert autumn == (datetime(2026, 11, 1, 4, tzinfo=UTC), datetime(2026, 11, 2, 5, tzinfo=UTC))
    shanghai = day_bounds(date(2026, 3, 8), zone("Asia/Shanghai"))
    assert shanghai == (
        datetime(2026, 3, 7, 16, tzinfo=UTC),
        datetime(2026, 3, 8, 16, tzinfo=UTC),
    )
    # Santiago's 2026-09-06 starts at 01:00: midnight does not exist that day.
    santiago = zone("America/Santiago")
    assert day_start(date(2026, 9, 6), santiago).astimezone(santiago).hour == 1
    # Apia skipped 2011-12-30 (it moved across the date line): an empty day.
    apia = zone("Pacific/Apia")
    skipped = day_bounds(date(2011, 12, 30), apia)
    assert skipped[0] == skipped[1] == datetime(2011, 12, 30, 10, tzinfo=UTC)


@given(
    first=st.dates(min_value=date(2000, 1, 1), max_value=date(2050, 1, 1)),
    length=st.integers(0, 400),
    name=names,
    fraction=st.floats(0, 1, exclude_max=True),
)
def test_offsets_give_every_instant_its_local_day(
    first: date, length: int, name: str, fraction: float
) -> None:
    """What the reports' query computes (UTC time + the offset of its piece) is the
    local day, anywhere in a period of up to 400 days."""
    tz = zone(name)
    start, end = days_bounds(first, first + timedelta(days=length), tz)
    pieces = offsets(start, end, tz)
    assert pieces[0][0] == start and all(a[0] < b[0] for a, b in pairwise(pieces))
    at = start + (end - start) * fraction
    _, seconds = [p for p in pieces if p[0] <= at][-1]
    assert (at + timedelta(seconds=seconds)).date() == local_day(at, tz)


def test_offsets_over_new_yorks_year() -> None:
    start, end = days_bounds(date(2026, 1, 1), date(2026, 12, 31), NEW_YORK)
    assert offsets(start, end, NEW_YORK) == [
        (datetime(2026, 1, 1, 5, tzinfo=UTC), -5 * 3600),
        (datetime(2026, 3, 8, 7, tzinfo=UTC), -4 * 3600),
        (datetime(2026, 11, 1, 6, tzinfo=UTC), -5 * 3600),
    ]


def test_a_community_counts_in_its_zone_else_the_tenants_else_the_default() -> None:
    zones = Zones({TENANT_SCOPE: "Europe/Paris", "c-ny": "America/New_York"})
    assert zones.of("c-ny").key == "America/New_York"
    assert zones.of("c-unknown").key == "Europe/Paris"
    assert zones.of(None).key == "Europe/Paris"
    assert Zones().of("c-ny").key == DEFAULT_ZONE == "Asia/Shanghai"
    at = datetime(2026, 3, 9, 3, 30, tzinfo=UTC)
    assert zones.today("c-ny", at) == date(2026, 3, 8)
    assert Zones().today(None, at) == date(2026, 3, 9)


def test_unknown_zone_names_never_get_in() -> None:
    assert known_zone("America/New_York") == "America/New_York"
    for bad in ("Mars/Olympus", "", None, 8, "../etc/passwd", "UTC+8"):
        assert known_zone(bad) is None
    assert zone("Mars/Olympus").key == DEFAULT_ZONE
    assert zone(None).key == DEFAULT_ZONE
