"""Publish times: wall-clock times in a community's zone, across DST in New York and in
Shanghai (no DST), and what may still change before a post goes out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from content.audience.domain import zone_of
from content.schedules.domain import (
    MAX_AHEAD,
    Refused,
    State,
    check_pending,
    check_publish_at,
    publishes,
    to_utc,
)

NEW_YORK, SHANGHAI = ZoneInfo("America/New_York"), ZoneInfo("Asia/Shanghai")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        (datetime(2026, 3, 7, 7, 30), utc(2026, 3, 7, 12, 30)),  # EST
        (datetime(2026, 3, 8, 2, 30), utc(2026, 3, 8, 7, 30)),  # skipped: 03:30 EDT
        (datetime(2026, 3, 8, 7, 30), utc(2026, 3, 8, 11, 30)),  # EDT the same day
        (datetime(2026, 11, 1, 1, 30), utc(2026, 11, 1, 5, 30)),  # repeated: the first (EDT)
        (datetime(2026, 11, 1, 7, 30), utc(2026, 11, 1, 12, 30)),  # EST the same day
        (datetime(2026, 11, 1, 22, 0), utc(2026, 11, 2, 3, 0)),  # 晚安 on the change day
    ],
)
def test_new_york_wall_clock_across_dst(local: datetime, expected: datetime) -> None:
    assert to_utc(local, NEW_YORK) == expected


def test_shanghai_has_no_dst_and_offsets_win() -> None:
    assert to_utc(datetime(2026, 3, 8, 7, 30), SHANGHAI) == utc(2026, 3, 7, 23, 30)
    assert to_utc(datetime(2026, 11, 1, 22, 0), SHANGHAI) == utc(2026, 11, 1, 14, 0)
    instant = datetime(2026, 3, 8, 2, 30, tzinfo=ZoneInfo("Europe/Paris"))
    assert to_utc(instant, NEW_YORK) == utc(2026, 3, 8, 1, 30)  # as given, zone ignored
    with pytest.raises(Refused) as refused:
        to_utc(datetime(2026, 3, 8, 7, 30), None)
    assert refused.value.slug == "timezone-unknown"


@given(st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31)))
def test_a_wall_clock_time_reads_back_unless_dst_skips_it(local: datetime) -> None:
    at = to_utc(local, NEW_YORK)
    back = at.astimezone(NEW_YORK).replace(tzinfo=None)
    skipped = (
        local.replace(tzinfo=NEW_YORK).utcoffset()
        != local.replace(tzinfo=NEW_YORK, fold=1).utcoffset()
        and back != local
    )
    if skipped:  # in the spring gap: moved forward by the gap (one hour)
        assert back == local + timedelta(hours=1)
    else:
        assert back == local
    assert at.tzinfo is UTC


def test_publish_times_are_in_the_future_and_within_a_year() -> None:
    now = utc(2026, 12, 3, 12)
    check_publish_at(now + timedelta(seconds=1), now)
    check_publish_at(now + MAX_AHEAD, now)
    for at, slug in (
        (now, "publish-at-past"),
        (now - timedelta(days=1), "publish-at-past"),
        (now + MAX_AHEAD + timedelta(seconds=1), "publish-at-too-far"),
    ):
        with pytest.raises(Refused) as refused:
            check_publish_at(at, now)
        assert refused.value.slug == slug


def test_only_a_pending_schedule_changes_or_publishes() -> None:
    check_pending(State.SCHEDULED)
    assert publishes(State.SCHEDULED)
    for state in (State.PUBLISHED, State.CANCELLED, State.FAILED):
        with pytest.raises(Refused):
            check_pending(state)
        assert not publishes(state)


def test_zones_by_name() -> None:
    assert zone_of("Asia/Shanghai") == SHANGHAI
    assert zone_of("Mars/Olympus") is None and zone_of("") is None and zone_of(None) is None
    assert zone_of("../etc/passwd") is None


def test_times_at_the_ends_of_the_calendar_are_refused_not_crashed() -> None:
    for when, tz in (
        (datetime(1, 1, 1, 0, 0), SHANGHAI),
        (datetime(9999, 12, 31, 23, 59), NEW_YORK),
        (datetime(9999, 12, 31, 23, 59, tzinfo=ZoneInfo("Etc/GMT+12")), None),
    ):
        with pytest.raises(Refused) as refused:
            to_utc(when, tz)
        assert refused.value.slug == "time-out-of-range"
