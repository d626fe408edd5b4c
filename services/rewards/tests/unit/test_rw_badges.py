"""Badge rules and progress: counts, rolling windows, streaks, levels."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rewards.badges.domain import (
    CHECKED_IN,
    MAX_WINDOW_EVENTS,
    BadgeRule,
    Criterion,
    Progress,
    default_badge_rules,
    observe,
    observe_level,
    standing,
)
from rewards.rules.domain import Condition, Op
from rewards.rules.sources import MEMBERSHIP_ACTIVATED
from rewards.zones.domain import zone

AT = datetime(2026, 11, 21, 8, tzinfo=UTC)
UTC_ZONE = zone("UTC")
POSTED = "quanzi.content.post.approved.v1"


def rule(criterion: Criterion, threshold: int, **extra: object) -> BadgeRule:
    event_type = None if criterion is Criterion.LEVEL else POSTED
    return BadgeRule("b", "Badge", criterion, threshold, event_type, **extra)  # type: ignore[arg-type]


def run(badge: BadgeRule, times: list[datetime]) -> tuple[Progress, list[int]]:
    """Observe every time in turn: the final progress and the indexes that awarded."""
    progress, awarded = Progress(), []
    for index, at in enumerate(times):
        step = observe(badge, progress, at, UTC_ZONE)
        progress = step.progress
        if step.awarded:
            awarded.append(index)
    return progress, awarded


def at_days(days: list[int], hour: int = 8) -> list[datetime]:
    return [AT + timedelta(days=day, hours=hour - 8) for day in days]


# ------------------------------------------------------------------ rules


def test_rules_refuse_what_cannot_be_counted() -> None:
    refused: list[Callable[[], object]] = [
        lambda: rule(Criterion.COUNT, 0),
        lambda: rule(Criterion.WITHIN_DAYS, 3),  # no days
        lambda: rule(Criterion.WITHIN_DAYS, MAX_WINDOW_EVENTS + 1, days=7),
        lambda: rule(Criterion.COUNT, 3, days=7),
        lambda: rule(Criterion.LEVEL, 5, repeatable=True),
        lambda: BadgeRule("b", "Badge", Criterion.LEVEL, 5, POSTED),
        lambda: BadgeRule("b", "Badge", Criterion.COUNT, 5),
        lambda: BadgeRule("", "Badge", Criterion.COUNT, 5, POSTED),
    ]
    for bad in refused:
        with pytest.raises(ValueError):
            bad()


def test_member_for_follows_type_community_beneficiary_and_conditions() -> None:
    badge = rule(
        Criterion.COUNT,
        1,
        beneficiary="author_id",
        community_id="c-1",
        conditions=(Condition("words", Op.GTE, 100),),
    )
    data = {"author_id": "crm-1", "community_id": "c-1", "words": 120}
    assert badge.member_for(POSTED, data) == "crm-1"
    assert badge.member_for("other.type", data) is None
    assert badge.member_for(POSTED, {**data, "community_id": "c-2"}) is None
    assert badge.member_for(POSTED, {**data, "words": 10}) is None
    assert badge.member_for(POSTED, {**data, "author_id": ""}) is None


def test_occurrence_keys_are_per_event_or_once_per_value() -> None:
    assert rule(Criterion.COUNT, 1).occurrence_key("e-1", {}) == "e-1:b"
    once = rule(Criterion.COUNT, 1, once_per="membership_id")
    assert once.occurrence_key("e-1", {"membership_id": "m-1"}) == "b:membership_id=m-1"
    assert once.occurrence_key("e-2", {"membership_id": "m-1"}) == "b:membership_id=m-1"


def test_rules_and_progress_survive_storage() -> None:
    for badge in default_badge_rules():
        assert BadgeRule.from_dict(badge.to_dict()) == badge
    progress = Progress(count=2, streak=3, last_day=date(2026, 11, 21), recent=(AT,), times=1)
    assert Progress.of(progress.state(), 1) == progress


def test_default_rules_are_valid_and_unique() -> None:
    rules = default_badge_rules()
    assert len({r.rule_id for r in rules}) == len(rules)
    referral = next(r for r in rules if r.rule_id == "referrals-5")
    data = {"member_id": "new", "source": {"inviter_id": "host"}, "membership_id": "m-1"}
    assert referral.member_for(MEMBERSHIP_ACTIVATED, data) == "host"
    assert referral.member_for(MEMBERSHIP_ACTIVATED, {**data, "source": {}}) is None


# ------------------------------------------------------------------ counting


def test_count_one_time_awards_once() -> None:
    progress, awarded = run(rule(Criterion.COUNT, 3), at_days([0, 0, 1, 2, 3, 4]))
    assert awarded == [2] and progress.times == 1
    assert progress.first_awarded_at == progress.last_awarded_at == at_days([1])[0]


def test_count_repeatable_awards_every_n_further_events() -> None:
    progress, awarded = run(rule(Criterion.COUNT, 2, repeatable=True), at_days([0] * 7))
    assert awarded == [1, 3, 5] and progress.times == 3 and progress.count == 1


def test_window_needs_n_events_within_x_days() -> None:
    badge = rule(Criterion.WITHIN_DAYS, 3, days=7)
    progress, awarded = run(badge, at_days([0, 5, 10, 12, 13]))
    # 0 and 5 fall out of the window before 10; 10, 12 and 13 make three inside 7 days.
    assert awarded == [4] and progress.recent == ()


def test_window_keeps_only_what_it_needs() -> None:
    badge = rule(Criterion.WITHIN_DAYS, 4, days=2)
    progress, _ = run(badge, at_days([0, 1, 3, 4]))
    assert progress.recent == tuple(at_days([3, 4]))


def test_window_ignores_an_event_older_than_the_window() -> None:
    badge = rule(Criterion.WITHIN_DAYS, 3, days=2)
    progress, _ = run(badge, at_days([10, 10]))
    late = observe(badge, progress, at_days([1])[0], UTC_ZONE)
    assert late.progress == progress and not late.awarded


def test_streak_counts_local_days_and_restarts_when_broken() -> None:
    badge = rule(Criterion.STREAK, 3)
    # Day 0 twice, 1, (gap), 3, 4 -- then 5 completes 3 consecutive days.
    progress, awarded = run(badge, at_days([0, 0, 1, 3, 4, 5]))
    assert awarded == [5] and progress.times == 1
    # 23:59 and 00:01 in the rule's zone (UTC here) are two days.
    late_evening = AT.replace(hour=23, minute=59)
    two = run(badge, [late_evening, late_evening + timedelta(minutes=2)])[0]
    assert two.streak == 2


def test_a_streak_counts_the_rules_local_days_across_dst() -> None:
    """Three New York evenings at 23:30 local, over the 23-hour 2026-03-08: three days in
    New York (a 3-day streak), but 04:30 and 03:30 UTC the next mornings."""
    badge = rule(Criterion.STREAK, 3)
    ny = zone("America/New_York")
    evenings = [
        datetime(2026, 3, 8, 4, 30, tzinfo=UTC),  # 03-07 23:30 EST
        datetime(2026, 3, 9, 3, 30, tzinfo=UTC),  # 03-08 23:30 EDT
        datetime(2026, 3, 10, 3, 30, tzinfo=UTC),  # 03-09 23:30 EDT
    ]
    progress, awarded = Progress(), []
    for index, at in enumerate(evenings):
        step = observe(badge, progress, at, ny)
        progress = step.progress
        awarded += [index] if step.awarded else []
    assert awarded == [2]
    # In Shanghai the same instants are the afternoons of 03-08, 03-09, 03-10: also 3 days;
    # in UTC the first two are 03-08 and 03-09 and the third 03-10.
    shanghai = Progress()
    for at in evenings[:2]:
        shanghai = observe(badge, shanghai, at, zone("Asia/Shanghai")).progress
    assert shanghai.last_day == date(2026, 3, 9) and shanghai.streak == 2
    # Standing: alive through New York's whole next day, broken after its midnight.
    two = Progress(streak=2, last_day=date(2026, 3, 8))
    assert standing(badge, two, 1, datetime(2026, 3, 10, 3, 59, tzinfo=UTC), ny).current == 2
    assert standing(badge, two, 1, datetime(2026, 3, 10, 4, 0, tzinfo=UTC), ny).current == 0


def test_a_late_event_does_not_change_a_streak() -> None:
    badge = rule(Criterion.STREAK, 3)
    progress, _ = run(badge, at_days([5, 6]))
    assert observe(badge, progress, at_days([2])[0], UTC_ZONE).progress == progress


def test_repeatable_streak_awards_every_n_consecutive_days() -> None:
    badge = rule(Criterion.STREAK, 7, repeatable=True)
    progress, awarded = run(badge, at_days(list(range(15))))
    assert awarded == [6, 13] and progress.times == 2 and progress.streak == 1


def test_level_rules_award_once_when_reached() -> None:
    badge = rule(Criterion.LEVEL, 5)
    assert not observe_level(badge, Progress(), 4, AT).awarded
    first = observe_level(badge, Progress(), 6, AT)
    assert first.awarded and first.progress.times == 1
    assert observe_level(badge, first.progress, 7, AT).progress == first.progress
    assert observe(badge, Progress(), AT, UTC_ZONE).progress == Progress()  # events do not count


def test_one_time_badges_stop_counting_once_earned() -> None:
    badge = rule(Criterion.COUNT, 1)
    progress, _ = run(badge, at_days([0]))
    assert observe(badge, progress, AT, UTC_ZONE).progress == progress


def test_standing_shows_progress_towards_the_next_award() -> None:
    streak = rule(Criterion.STREAK, 7)
    progress, _ = run(streak, at_days([0, 1, 2]))
    assert (
        standing(streak, progress, 1, at_days([3])[0], UTC_ZONE).current == 3
    )  # alive till tomorrow
    assert standing(streak, progress, 1, at_days([4])[0], UTC_ZONE).current == 0  # broken
    window = rule(Criterion.WITHIN_DAYS, 5, days=7)
    progress, _ = run(window, at_days([0, 3, 6]))
    assert standing(window, progress, 1, at_days([8])[0], UTC_ZONE).current == 2
    assert standing(rule(Criterion.LEVEL, 5), Progress(), 3, AT, UTC_ZONE).current == 3
    earned, _ = run(rule(Criterion.COUNT, 2), at_days([0, 0]))
    assert standing(rule(Criterion.COUNT, 2), earned, 1, AT, UTC_ZONE).current == 2


# ------------------------------------------------------------ properties


def _streak_awards(days: list[int], n: int, repeatable: bool) -> list[int]:
    """Brute force: the indexes of the events on which a run of consecutive days reaches a
    multiple of n (the first one only, when not repeatable)."""
    awards, run_length, previous = [], 0, None
    for index, day in enumerate(days):
        if day == previous:
            continue
        run_length = run_length + 1 if previous is not None and day == previous + 1 else 1
        previous = day
        if run_length % n == 0:
            awards.append(index)
    return awards if repeatable else awards[:1]


sorted_days = st.lists(st.integers(0, 60), max_size=80).map(sorted)


@given(sorted_days, st.integers(1, 10), st.booleans(), st.integers(0, 23))
def test_streak_awards_equal_a_brute_force_count(
    days: list[int], n: int, repeatable: bool, hour: int
) -> None:
    badge = rule(Criterion.STREAK, n, repeatable=repeatable)
    _, awarded = run(badge, at_days(days, hour))
    assert awarded == _streak_awards(days, n, repeatable)


def _window_awards(times: list[datetime], n: int, days: int) -> list[int]:
    """Brute force over the whole history since the last award."""
    awards, since = [], 0
    for index, at in enumerate(times):
        inside = [t for t in times[since : index + 1] if at - t < timedelta(days=days)]
        if len(inside) >= n:
            awards.append(index)
            since = index + 1
    return awards


@given(
    st.lists(st.integers(0, 60 * 24), max_size=60).map(sorted),
    st.integers(1, 6),
    st.integers(1, 10),
)
def test_window_awards_equal_a_brute_force_count(hours: list[int], n: int, days: int) -> None:
    times = [AT + timedelta(hours=h) for h in hours]
    progress, awarded = run(rule(Criterion.WITHIN_DAYS, n, days=days, repeatable=True), times)
    assert awarded == _window_awards(times, n, days)
    assert len(progress.recent) < n  # bounded state


@given(st.integers(0, 100), st.integers(1, 10), st.booleans())
def test_count_awards_every_n(events: int, n: int, repeatable: bool) -> None:
    progress, awarded = run(rule(Criterion.COUNT, n, repeatable=repeatable), [AT] * events)
    expected = events // n if repeatable else min(1, events // n)
    assert len(awarded) == progress.times == expected


criteria = st.sampled_from([Criterion.COUNT, Criterion.STREAK, Criterion.WITHIN_DAYS])


@given(criteria, st.integers(1, 5), st.booleans(), st.lists(st.integers(-5, 40), max_size=40))
def test_awards_are_monotonic_and_one_time_badges_stay_single(
    criterion: Criterion, n: int, repeatable: bool, days: list[int]
) -> None:
    extra: dict[str, object] = {"repeatable": repeatable}
    if criterion is Criterion.WITHIN_DAYS:
        extra["days"] = 3
    badge = rule(criterion, n, **extra)
    progress = Progress()
    for at in at_days(days):  # any order, late events included
        step = observe(badge, progress, at, UTC_ZONE)
        assert step.progress.times == progress.times + (1 if step.awarded else 0)
        assert len(step.progress.recent) < n or criterion is not Criterion.WITHIN_DAYS
        progress = step.progress
    assert repeatable or progress.times <= 1


@given(st.lists(st.integers(1, 9), max_size=20), st.integers(1, 9))
def test_level_awards_are_idempotent(levels: list[int], threshold: int) -> None:
    badge = rule(Criterion.LEVEL, threshold)
    progress = Progress()
    for level in levels:
        progress = observe_level(badge, progress, level, AT).progress
    assert progress.times == (1 if any(level >= threshold for level in levels) else 0)


def test_defaults_cover_every_criterion() -> None:
    kinds = {r.criterion for r in default_badge_rules()}
    assert kinds == set(Criterion)
    streak = next(r for r in default_badge_rules() if r.event_type == CHECKED_IN)
    assert streak.repeatable and streak.threshold == 7
