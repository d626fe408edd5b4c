"""Recurring posts: the next occurrence of an RRULE in a community's wall clock, across
DST in New York (2026-03-08, 2026-11-01) and in Shanghai (none)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from content.recurring.domain import next_occurrence, occurrences, parse_rule
from content.schedules.domain import Refused

NEW_YORK, SHANGHAI = ZoneInfo("America/New_York"), ZoneInfo("Asia/Shanghai")
DAILY_0730 = "FREQ=DAILY;BYHOUR=7;BYMINUTE=30;BYSECOND=0"
START = datetime(2026, 1, 1, 0, 0)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def test_zao_an_stays_at_0730_in_new_york_across_both_dst_changes() -> None:
    rule = parse_rule(DAILY_0730, START)
    spring = occurrences(rule, NEW_YORK, utc(2026, 3, 6, 13), 3)
    assert spring == [utc(2026, 3, 7, 12, 30), utc(2026, 3, 8, 11, 30), utc(2026, 3, 9, 11, 30)]
    autumn = occurrences(rule, NEW_YORK, utc(2026, 10, 31, 12), 3)
    assert autumn == [
        utc(2026, 11, 1, 12, 30),  # EST from today on
        utc(2026, 11, 2, 12, 30),
        utc(2026, 11, 3, 12, 30),
    ]
    assert [at.astimezone(NEW_YORK).hour for at in spring + autumn] == [7] * 6


def test_wan_an_and_shanghai_have_no_dst() -> None:
    rule = parse_rule("RRULE:FREQ=DAILY;BYHOUR=22;BYMINUTE=0;BYSECOND=0", START)
    assert occurrences(rule, SHANGHAI, utc(2026, 3, 7, 15), 2) == [
        utc(2026, 3, 8, 14),
        utc(2026, 3, 9, 14),
    ]
    # the same rule in New York on the day the clocks go back: 22:00 EST
    assert next_occurrence(rule, NEW_YORK, utc(2026, 11, 1, 12)) == utc(2026, 11, 2, 3)


def test_skipped_and_repeated_hours() -> None:
    rule = parse_rule("FREQ=DAILY;BYHOUR=2;BYMINUTE=30;BYSECOND=0", START)
    # 02:30 does not exist on 2026-03-08: it goes out at 03:30 EDT, once
    assert next_occurrence(rule, NEW_YORK, utc(2026, 3, 8, 5)) == utc(2026, 3, 8, 7, 30)
    assert next_occurrence(rule, NEW_YORK, utc(2026, 3, 8, 7, 30)) == utc(2026, 3, 9, 6, 30)
    repeated = parse_rule("FREQ=DAILY;BYHOUR=1;BYMINUTE=30;BYSECOND=0", START)
    first = next_occurrence(repeated, NEW_YORK, utc(2026, 11, 1, 4))
    assert first == utc(2026, 11, 1, 5, 30)  # 01:30 EDT; not again at 01:30 EST
    assert next_occurrence(repeated, NEW_YORK, first) == utc(2026, 11, 2, 6, 30)


def test_weekly_themes_and_rules_that_end() -> None:
    monday = parse_rule("FREQ=WEEKLY;BYDAY=MO;BYHOUR=20;BYMINUTE=0;BYSECOND=0", START)
    found = occurrences(monday, SHANGHAI, utc(2026, 12, 3), 2)
    assert found == [utc(2026, 12, 7, 12), utc(2026, 12, 14, 12)]
    twice = parse_rule("FREQ=DAILY;COUNT=2;BYHOUR=7;BYMINUTE=30;BYSECOND=0", START)
    assert next_occurrence(twice, SHANGHAI, utc(2026, 1, 2)) is None  # 01-01, 01-02 done


@pytest.mark.parametrize(
    ("rule", "slug"),
    [
        ("", "rrule-invalid"),
        ("FREQ=SOMETIMES", "rrule-invalid"),
        ("DTSTART:20260101T000000\nRRULE:FREQ=DAILY", "rrule-invalid"),
        ("FREQ=MINUTELY", "rrule-too-frequent"),
        ("FREQ=DAILY;BYHOUR=25", "rrule-invalid"),
        ("x" * 600, "rrule-invalid"),
    ],
)
def test_bad_rules_are_named(rule: str, slug: str) -> None:
    with pytest.raises(Refused) as refused:
        parse_rule(rule, START)
    assert refused.value.slug == slug


@given(
    hour=st.integers(0, 23),
    minute=st.sampled_from([0, 15, 30, 45]),
    after=st.datetimes(min_value=datetime(2026, 1, 2), max_value=datetime(2028, 12, 1)),
    zone=st.sampled_from([NEW_YORK, SHANGHAI]),
)
def test_daily_occurrences_are_increasing_and_a_local_day_apart(
    hour: int, minute: int, after: datetime, zone: ZoneInfo
) -> None:
    rule = parse_rule(f"FREQ=DAILY;BYHOUR={hour};BYMINUTE={minute};BYSECOND=0", START)
    found = occurrences(rule, zone, after.replace(tzinfo=UTC), 3)
    assert len(found) == 3 and found[0] > after.replace(tzinfo=UTC)
    days = [at.astimezone(zone).date() for at in found]
    assert days[1] - days[0] == days[2] - days[1] == timedelta(days=1)
    for at in found:  # on the wall clock, unless DST skipped that hour
        local = at.astimezone(zone)
        assert (local.hour, local.minute) in {(hour, minute), ((hour + 1) % 24, minute)}


def test_a_start_far_from_today_is_refused() -> None:
    from content.recurring.domain import check_start

    now = utc(2026, 12, 3, 12)
    check_start(datetime(2026, 1, 1, 7, 30), now)
    check_start(datetime(2027, 6, 1, 7, 30), now)
    for start in (datetime(1, 1, 1), datetime(2025, 11, 1), datetime(9999, 12, 31, 7, 30)):
        with pytest.raises(Refused) as refused:
            check_start(start, now)
        assert refused.value.slug == "start-out-of-range"
