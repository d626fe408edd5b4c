"""Check-in challenges' rules: local days and windows across midnight and DST, content,
and streaks with make-up cards, grace, milestones and completion against a brute-force
model."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from activities.challenges.domain import (
    DayState,
    Entry,
    InvalidRules,
    Part,
    Progress,
    Refusal,
    Refused,
    Rules,
    Window,
    best_streak,
    calendar,
    check_content,
    check_in,
    current_streak,
    day_of,
    make_up,
    on_time_day,
    runs,
    streak_through,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
START = date(2026, 12, 1)


def rules(**kw: object) -> Rules:
    values: dict[str, object] = {
        "start_date": START,
        "end_date": START + timedelta(days=29),
        "required_days": 7,
    }
    values.update(kw)
    return Rules(**values)  # type: ignore[arg-type]


def refusal(call: object) -> Refusal:
    with pytest.raises(Refused) as caught:
        call()  # type: ignore[operator]
    return caught.value.reason


# --- local days and windows ------------------------------------------------------------


def test_2359_and_0001_local_are_two_days_in_shanghai() -> None:
    before = datetime(2026, 12, 2, 15, 59, tzinfo=UTC)  # 23:59 on Dec 2 in Shanghai
    after = datetime(2026, 12, 2, 16, 1, tzinfo=UTC)  # 00:01 on Dec 3
    assert day_of(before, SHANGHAI) == date(2026, 12, 2)
    assert day_of(after, SHANGHAI) == date(2026, 12, 3)
    assert on_time_day(rules(), before, SHANGHAI) != on_time_day(rules(), after, SHANGHAI)


def test_the_window_follows_the_wall_clock_across_a_dst_change() -> None:
    r = rules(
        start_date=date(2026, 3, 1),
        end_date=date(2026, 3, 20),
        window=Window(time(5), time(9)),
    )
    # 09:30 UTC is 04:30 EST on Mar 7 (before the window) and 05:30 EDT on Mar 8.
    assert refusal(lambda: on_time_day(r, datetime(2026, 3, 7, 9, 30, tzinfo=UTC), NEW_YORK)) is (
        Refusal.OUTSIDE_WINDOW
    )
    assert on_time_day(r, datetime(2026, 3, 8, 9, 30, tzinfo=UTC), NEW_YORK) == date(2026, 3, 8)
    # 13:30 UTC is 08:30 EST on Mar 7 (inside) and 09:30 EDT on Mar 8 (after).
    assert on_time_day(r, datetime(2026, 3, 7, 13, 30, tzinfo=UTC), NEW_YORK) == date(2026, 3, 7)
    assert refusal(lambda: on_time_day(r, datetime(2026, 3, 8, 13, 30, tzinfo=UTC), NEW_YORK)) is (
        Refusal.OUTSIDE_WINDOW
    )


def test_the_day_of_the_fall_back_change_is_one_day_of_25_hours() -> None:
    first = datetime(2026, 11, 1, 4, 30, tzinfo=UTC)  # 00:30 EDT, Nov 1
    last = datetime(2026, 11, 2, 4, 30, tzinfo=UTC)  # 23:30 EST, Nov 1 (25 h later: 24 h)
    assert day_of(first, NEW_YORK) == day_of(last, NEW_YORK) == date(2026, 11, 1)
    assert day_of(last + timedelta(hours=1), NEW_YORK) == date(2026, 11, 2)


def test_before_the_start_and_after_the_end_are_refused() -> None:
    r = rules(end_date=START + timedelta(days=2), required_days=3)
    before = datetime(2026, 11, 30, 15, tzinfo=UTC)  # 23:00 Nov 30 in Shanghai
    after = datetime(2026, 12, 3, 16, 30, tzinfo=UTC)  # 00:30 Dec 4 in Shanghai
    assert refusal(lambda: on_time_day(r, before, SHANGHAI)) is Refusal.NOT_STARTED
    assert refusal(lambda: on_time_day(r, after, SHANGHAI)) is Refusal.ENDED


def test_a_check_in_holds_what_the_challenge_requires() -> None:
    r = rules(requires=frozenset({Part.TEXT, Part.NUMBER}), min_text_length=5)
    assert refusal(lambda: check_content(r, Entry(text="读了二十页书"))) is Refusal.CONTENT
    assert refusal(lambda: check_content(r, Entry(text="  ab  ", number=3))) is Refusal.CONTENT
    check_content(r, Entry(text="读了二十页书", number=20))
    check_content(rules(), Entry())  # nothing required: an empty check-in counts


@pytest.mark.parametrize(
    "kw",
    [
        {"end_date": START - timedelta(days=1)},
        {"required_days": 31},
        {"required_days": 0},
        {"window": Window(time(9), time(5))},
        {"min_text_length": 3},
        {"milestones": (3, 3)},
        {"milestones": (0,)},
        {"end_date": START + timedelta(days=400), "required_days": 1},
    ],
)
def test_settings_that_contradict_each_other_are_refused(kw: dict[str, object]) -> None:
    with pytest.raises(InvalidRules):
        rules(**kw)


# --- make-up cards -------------------------------------------------------------------------


def test_make_up_cards_fill_only_missed_days_of_the_last_k_days() -> None:
    r = rules(makeup_cards=1, makeup_days=3)
    today = START + timedelta(days=5)
    done = check_in(r, Progress(), START + timedelta(days=4)).progress
    assert refusal(lambda: make_up(r, done, today, today)) is Refusal.NOT_A_PAST_DAY
    assert refusal(lambda: make_up(r, done, START + timedelta(days=1), today)) is Refusal.TOO_OLD
    assert refusal(lambda: make_up(r, done, START + timedelta(days=4), today)) is Refusal.ALREADY
    assert refusal(lambda: make_up(r, done, START - timedelta(days=1), START)) is (
        Refusal.NOT_A_PAST_DAY
    )
    filled = make_up(r, done, START + timedelta(days=3), today)
    assert filled.make_up and filled.streak == 2 and filled.progress.makeups_used == 1
    spent = filled.progress
    assert refusal(lambda: make_up(r, spent, START + timedelta(days=2), today)) is Refusal.NO_CARDS


def test_a_make_up_joins_two_streaks_into_one() -> None:
    r = rules(makeup_cards=1, makeup_days=3, milestones=(3,))
    progress = Progress()
    for offset in (0, 2):
        progress = check_in(r, progress, START + timedelta(days=offset)).progress
    assert best_streak(progress.days, 0) == 1
    joined = make_up(r, progress, START + timedelta(days=1), START + timedelta(days=3))
    assert joined.streak == 3 and joined.new_milestones == (3,)


def test_grace_keeps_a_streak_over_missed_days_that_do_not_count() -> None:
    days = frozenset({START, START + timedelta(days=2), START + timedelta(days=3)})
    assert best_streak(days, 0) == 2
    assert best_streak(days, 1) == 3
    assert current_streak(days, 1, START + timedelta(days=5)) == 3  # one day missed: alive
    assert current_streak(days, 1, START + timedelta(days=6)) == 0  # two missed: over
    assert current_streak(days, 0, START + timedelta(days=4)) == 2  # today not missed yet


def test_the_calendar_says_what_each_day_is() -> None:
    r = rules(end_date=START + timedelta(days=4), required_days=1)
    checked = {START: False, START + timedelta(days=1): True}
    states = [state for _, state in calendar(r, checked, START + timedelta(days=3))]
    assert states == [
        DayState.CHECKED,
        DayState.MADE_UP,
        DayState.MISSED,
        DayState.OPEN,
        DayState.AHEAD,
    ]


# --- streaks against a brute-force model --------------------------------------------------


def model_streak(days: set[date], grace: int, day: date) -> int:
    """Walk away from ``day`` one calendar day at a time, both ways, counting checked
    days until more than ``grace`` missed days in a row."""
    if day not in days:
        return 0
    count = 1
    for step in (-1, 1):
        missed, at = 0, day
        while missed <= grace and min(days) <= at <= max(days):
            at += timedelta(days=step)
            if at in days:
                count, missed = count + 1, 0
            else:
                missed += 1
    return count


day_sets = st.sets(st.integers(0, 40), max_size=30).map(
    lambda offsets: {START + timedelta(days=o) for o in offsets}
)


@given(day_sets, st.integers(0, 3))
def test_streaks_match_the_model(days: set[date], grace: int) -> None:
    frozen = frozenset(days)
    for day in days:
        assert streak_through(frozen, grace, day) == model_streak(days, grace, day)
    assert best_streak(frozen, grace) == max(
        (model_streak(days, grace, d) for d in days), default=0
    )
    assert sum(run.days for run in runs(frozen, grace)) == len(days)


operations = st.lists(st.tuples(st.booleans(), st.integers(0, 29), st.integers(0, 4)), max_size=40)


@given(
    operations,
    st.integers(0, 3),
    st.integers(0, 3),
    st.integers(0, 2),
    st.integers(1, 30),
    st.sets(st.integers(1, 30), max_size=4),
)
def test_progress_matches_the_model(
    ops: list[tuple[bool, int, int]],
    cards: int,
    reach: int,
    grace: int,
    required: int,
    milestones: set[int],
) -> None:
    """Random check-ins and make-ups: every accepted one is what the model accepts; the
    days, cards, milestones (each announced once) and completion (once) agree with it."""
    r = rules(
        makeup_cards=cards,
        makeup_days=reach,
        grace_days=grace,
        required_days=required,
        milestones=tuple(sorted(milestones)),
    )
    progress, days, used = Progress(), set[date](), 0
    announced: list[int] = []
    completions = 0
    for is_makeup, offset, back in ops:
        today = START + timedelta(days=offset)
        day = today - timedelta(days=back) if is_makeup else today
        ok = day not in days and (
            not is_makeup or (0 < back <= reach and day >= START and used < cards)
        )
        try:
            recorded = make_up(r, progress, day, today) if is_makeup else check_in(r, progress, day)
        except Refused:
            assert not ok
            continue
        assert ok
        days.add(day)
        used += is_makeup
        progress = recorded.progress
        announced += recorded.new_milestones
        completions += recorded.completed_now
        assert recorded.streak == model_streak(days, grace, day)
        assert recorded.total == len(days)
    assert progress.days == days and progress.makeups_used == used
    best = max((model_streak(days, grace, d) for d in days), default=0)
    assert sorted(announced) == sorted(m for m in milestones if best >= m)
    assert completions == (1 if len(days) >= required else 0)
