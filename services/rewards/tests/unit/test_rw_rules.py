"""Earning rules, caps and levels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rewards.levels.domain import LevelScheme
from rewards.rules.domain import (
    Caps,
    EarnedSoFar,
    EarningRule,
    Expiry,
    ExpiryKind,
    Periods,
    capped,
    earned_so_far,
)
from rewards.rules.sources import (
    ACTIVITY_EVENTS,
    COMMENT_APPROVED,
    COMMENT_REJECTED,
    CONTEST_AWARDED,
    MEMBERSHIP_ACTIVATED,
    POST_RECOMMENDED,
    POST_REJECTED,
    POST_SHARED,
    REFERRAL_REVOKED,
    REFERRAL_TIER_REACHED,
    default_rules,
    revoked_cause,
    withdrawn_cause,
)
from rewards.zones.domain import Zones, zone

AT = datetime(2026, 11, 21, 8, tzinfo=UTC)
UTC_DAYS = Zones({"": "UTC"})
SHANGHAI = zone("Asia/Shanghai")
NEW_YORK = zone("America/New_York")


def activated(**extra: Any) -> dict[str, Any]:
    return {
        "membership_id": "m-1",
        "member_id": "crm-2",
        "community_id": "c-1",
        "refund_window_ends_at": "2026-11-24T08:00:00+00:00",
        "source": {"kind": "invite", "inviter_id": "crm-1"},
        **extra,
    }


def rule(rule_id: str) -> EarningRule:
    return next(r for r in default_rules() if r.rule_id == rule_id)


def test_join_bonus_is_pending_until_the_refund_window_ends() -> None:
    award = rule("join-bonus").award(MEMBERSHIP_ACTIVATED, activated(), AT, UTC_DAYS)
    assert award is not None
    assert (award.member_id, award.points, award.community_id) == ("crm-2", 10, "c-1")
    assert award.available_at == datetime(2026, 11, 24, 8, tzinfo=UTC)
    assert award.cause == "membership_id=m-1"
    assert award.expires_at == AT + timedelta(days=365)


def test_referral_goes_to_the_inviter_only_when_there_is_one() -> None:
    award = rule("referral").award(MEMBERSHIP_ACTIVATED, activated(), AT, UTC_DAYS)
    assert award is not None and award.member_id == "crm-1" and award.points == 20
    alone = activated(source={"kind": "open", "inviter_id": None})
    assert rule("referral").award(MEMBERSHIP_ACTIVATED, alone, AT, UTC_DAYS) is None


def test_a_contests_place_pays_its_points_once_per_place() -> None:
    place = {"member_id": "crm-1", "community_id": "c-1", "award_id": "aw-1", "points": 500}
    contest = rule("contest-award")
    award = contest.award(CONTEST_AWARDED, place, AT, UTC_DAYS)
    assert award is not None and (award.member_id, award.points) == ("crm-1", 500)
    # Once per place whatever the event id (a republished award is the same place).
    assert contest.award_key("e-1", place) == contest.award_key("e-2", place)
    assert contest.award(CONTEST_AWARDED, {**place, "points": 0}, AT, UTC_DAYS) is None
    assert CONTEST_AWARDED in ACTIVITY_EVENTS


def test_a_referral_tier_pays_its_points_caused_by_the_grant_a_revocation_reverses() -> None:
    tier = {"member_id": "crm-1", "community_id": "c-1", "points": 100, "tier_key": "rc/crm-1/0"}
    award = rule("referral-tier").award(REFERRAL_TIER_REACHED, tier, AT, UTC_DAYS)
    assert award is not None and award.points == 100
    assert award.cause == revoked_cause(REFERRAL_REVOKED, tier) == "tier_key=rc/crm-1/0"
    assert revoked_cause(REFERRAL_TIER_REACHED, tier) is None
    assert revoked_cause(REFERRAL_REVOKED, {**tier, "tier_key": None}) is None
    assert (
        rule("referral-tier").award(REFERRAL_TIER_REACHED, {**tier, "points": 0}, AT, UTC_DAYS)
        is None
    )
    assert REFERRAL_TIER_REACHED in ACTIVITY_EVENTS and REFERRAL_REVOKED not in ACTIVITY_EVENTS


def test_content_earns_as_the_seed_says_for_members_only() -> None:
    author = {"post_id": "p-1", "comment_id": "k-1", "author_id": "crm-1", "community_id": "c-1"}
    cases = [
        ("approved-comment", COMMENT_APPROVED, "crm-1", 10, Caps(per_day=30), "comment_id=k-1"),
        ("recommendation", POST_RECOMMENDED, "crm-1", 10, Caps(per_day=30), "post_id=p-1"),
        ("share", POST_SHARED, "crm-9", 15, Caps(per_day=45), None),
    ]
    for rule_id, event_type, member, points, caps, cause in cases:
        data = {**author, "author_kind": "member", "member_id": "crm-9"}
        award = rule(rule_id).award(event_type, data, AT, UTC_DAYS)
        assert award is not None, rule_id
        assert (award.member_id, award.points, award.cause) == (member, points, cause)
        assert rule(rule_id).caps == caps
    for rule_id, event_type in (
        ("approved-comment", COMMENT_APPROVED),
        ("recommendation", POST_RECOMMENDED),
    ):
        by_operator = {**author, "author_kind": "operator"}
        assert rule(rule_id).award(event_type, by_operator, AT, UTC_DAYS) is None


def test_only_a_rejection_of_approved_content_takes_points_back() -> None:
    post = {"post_id": "p-1", "previously_approved": True}
    assert withdrawn_cause(POST_REJECTED, post) == "post_id=p-1"
    assert withdrawn_cause(COMMENT_REJECTED, {**post, "comment_id": "k-1"}) == "comment_id=k-1"
    assert withdrawn_cause(POST_REJECTED, {**post, "previously_approved": False}) is None
    assert withdrawn_cause(POST_REJECTED, {"post_id": "p-1"}) is None
    assert withdrawn_cause(COMMENT_REJECTED, post) is None  # no comment named
    assert withdrawn_cause(POST_SHARED, post) is None


def test_open_communities_without_a_refund_window_credit_at_once() -> None:
    award = rule("join-bonus").award(
        MEMBERSHIP_ACTIVATED, activated(refund_window_ends_at=None), AT, UTC_DAYS
    )
    assert award is not None and award.available_at == AT


def test_points_per_unit_and_conditions() -> None:
    quiz = rule("correct-answers")
    award = quiz.award(quiz.event_type, {"member_id": "m", "correct_answers": 3}, AT, UTC_DAYS)
    assert award is not None and award.points == 15
    assert (
        quiz.award(quiz.event_type, {"member_id": "m", "correct_answers": 0}, AT, UTC_DAYS) is None
    )
    assert (
        quiz.award(quiz.event_type, {"member_id": "m", "correct_answers": "3"}, AT, UTC_DAYS)
        is None
    )
    assert (
        quiz.award("another.type.v1", {"member_id": "m", "correct_answers": 3}, AT, UTC_DAYS)
        is None
    )


def test_scope_and_active_window() -> None:
    scoped = EarningRule(
        rule_id="r",
        version=2,
        event_type="x.v1",
        points=1,
        community_id="c-1",
        active_from=AT,
        active_until=AT + timedelta(days=1),
    )
    assert scoped.award("x.v1", {"member_id": "m", "community_id": "c-2"}, AT, UTC_DAYS) is None
    assert scoped.award("x.v1", {"member_id": "m", "community_id": "c-1"}, AT, UTC_DAYS) is not None
    assert (
        scoped.award("x.v1", {"member_id": "m", "community_id": "c-1"}, AT - timedelta(1), UTC_DAYS)
        is None
    )
    late = AT + timedelta(days=1)
    assert scoped.award("x.v1", {"member_id": "m", "community_id": "c-1"}, late, UTC_DAYS) is None


def test_expiry_policies() -> None:
    utc = zone("UTC")
    assert Expiry().expires_at(AT, utc) is None
    assert Expiry(ExpiryKind.AFTER_DAYS, 30).expires_at(AT, utc) == AT + timedelta(days=30)
    month = Expiry(ExpiryKind.END_OF_MONTH)
    assert month.expires_at(AT, utc) == datetime(2026, 12, 1, tzinfo=UTC)
    december = datetime(2026, 12, 31, 23, tzinfo=UTC)
    assert month.expires_at(december, utc) == datetime(2027, 1, 1, tzinfo=UTC)
    assert Expiry(ExpiryKind.END_OF_YEAR).expires_at(AT, utc) == datetime(2027, 1, 1, tzinfo=UTC)


def test_the_end_of_a_month_or_year_is_the_local_midnight() -> None:
    """23:00 UTC on Dec 31 is already Jan 1 in Shanghai: its month ends on Feb 1, at
    Shanghai's midnight (16:00 UTC the day before); New York's year ends at 05:00 UTC."""
    december = datetime(2026, 12, 31, 23, tzinfo=UTC)
    month, year = Expiry(ExpiryKind.END_OF_MONTH), Expiry(ExpiryKind.END_OF_YEAR)
    assert month.expires_at(december, SHANGHAI) == datetime(2027, 1, 31, 16, tzinfo=UTC)
    assert year.expires_at(december, SHANGHAI) == datetime(2027, 12, 31, 16, tzinfo=UTC)
    assert month.expires_at(december, NEW_YORK) == datetime(2027, 1, 1, 5, tzinfo=UTC)
    assert year.expires_at(december, NEW_YORK) == datetime(2027, 1, 1, 5, tzinfo=UTC)
    # Earned in New York's March (EST), expiring at April's first midnight (EDT).
    march = datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert month.expires_at(march, NEW_YORK) == datetime(2026, 4, 1, 4, tzinfo=UTC)


def test_an_award_expires_in_its_communitys_days() -> None:
    rule = EarningRule("r", 1, "x.v1", 5, expiry=Expiry(ExpiryKind.END_OF_MONTH))
    zones = Zones({"": "Asia/Shanghai", "c-ny": "America/New_York"})
    at = datetime(2026, 11, 30, 20, tzinfo=UTC)  # Dec 1 in Shanghai, Nov 30 in New York
    ny = rule.award("x.v1", {"member_id": "m", "community_id": "c-ny"}, at, zones)
    sh = rule.award("x.v1", {"member_id": "m", "community_id": "c-sh"}, at, zones)  # unknown
    assert ny is not None and ny.expires_at == datetime(2026, 12, 1, 5, tzinfo=UTC)
    assert sh is not None and sh.expires_at == datetime(2026, 12, 31, 16, tzinfo=UTC)


def test_rules_round_trip_through_json_and_refuse_nonsense() -> None:
    for original in default_rules():
        assert EarningRule.from_dict(original.to_dict()) == original
    base = rule("join-bonus").to_dict()
    for bad in (
        {"points": 0},
        {"points": 10**9},
        {"version": 0},
        {"pending_days": -1},
        {"caps": {"per_day": 0}},
        {"expiry": {"kind": "after_days"}},
        {"expiry": {"kind": "someday"}},
        {"conditions": [{"path": "x", "op": "like"}]},
        {"unknown": 1},
    ):
        with pytest.raises((ValueError, TypeError)):
            EarningRule.from_dict({**base, **bad})


def test_periods_are_local_calendar_periods() -> None:
    at = datetime(2026, 11, 21, 23, 59, tzinfo=UTC)  # a Saturday in UTC and New York
    periods = Periods.containing(at, zone("UTC"))
    assert periods.day == datetime(2026, 11, 21, tzinfo=UTC)
    assert periods.week == datetime(2026, 11, 16, tzinfo=UTC)
    assert periods.month == datetime(2026, 11, 1, tzinfo=UTC)
    shanghai = Periods.containing(at, SHANGHAI)  # Sunday 07:59 there
    assert shanghai.day == datetime(2026, 11, 21, 16, tzinfo=UTC)
    assert shanghai.week == datetime(2026, 11, 15, 16, tzinfo=UTC)
    assert shanghai.month == datetime(2026, 10, 31, 16, tzinfo=UTC)
    new_york = Periods.containing(at, NEW_YORK)  # Saturday 18:59 EST
    assert new_york.day == datetime(2026, 11, 21, 5, tzinfo=UTC)
    assert new_york.week == datetime(2026, 11, 16, 5, tzinfo=UTC)
    assert new_york.month == datetime(2026, 11, 1, 4, tzinfo=UTC)  # the month began in EDT


def test_a_daily_cap_resets_at_the_local_midnight_across_dst() -> None:
    """New York's 2026-03-08 is 23 hours long: earnings at its first and last minute are
    one day, the next minute is the next day; 2026-11-01 has 25 hours."""
    for day_start, day_end in (
        (datetime(2026, 3, 8, 5, tzinfo=UTC), datetime(2026, 3, 9, 4, tzinfo=UTC)),
        (datetime(2026, 11, 1, 4, tzinfo=UTC), datetime(2026, 11, 2, 5, tzinfo=UTC)),
    ):
        earned = [(day_start, 1), (day_end - timedelta(minutes=1), 1)]
        assert earned_so_far(earned, day_end - timedelta(seconds=1), NEW_YORK).day == 2
        assert earned_so_far(earned, day_end, NEW_YORK).day == 0
        before = [(day_start - timedelta(seconds=1), 1)]  # the day before's last second
        assert earned_so_far(before, day_start, NEW_YORK).day == 0


@given(
    points=st.integers(1, 100),
    cap=st.integers(1, 100),
    events=st.integers(1, 30),
)
def test_a_cap_is_never_exceeded_and_fills_exactly(points: int, cap: int, events: int) -> None:
    earned = 0
    for _ in range(events):
        earned += capped(points, Caps(per_day=cap), EarnedSoFar(day=earned))
    assert earned <= cap
    assert earned == min(points * events, cap)


def test_the_tightest_cap_wins() -> None:
    caps = Caps(per_day=10, per_week=12, per_month=100)
    assert capped(10, caps, EarnedSoFar(day=0, week=5, month=5)) == 7
    assert capped(10, caps, EarnedSoFar(day=10, week=10, month=10)) == 0


def test_default_levels() -> None:
    scheme = LevelScheme()
    assert [scheme.level_of(p) for p in (0, 4, 5, 19, 20, 33014, 33015, 10**9)] == [
        1,
        1,
        2,
        2,
        3,
        8,
        9,
        9,
    ]
    progress = scheme.progress(10)
    assert (progress.level, progress.next_level_at, progress.points_to_next) == (2, 20, 10)
    assert progress.percent == 33
    top = scheme.progress(40000)
    assert (top.level, top.next_level_at, top.percent) == (9, None, 100)


def test_level_schemes_are_validated() -> None:
    for thresholds, names in (((1, 5), ("a", "b")), ((0, 5, 5), ("a", "b", "c")), ((0,), ())):
        with pytest.raises(ValueError):
            LevelScheme(thresholds, names)


@given(st.integers(0, 50_000), st.integers(0, 50_000))
def test_levels_are_monotonic_in_lifetime_points(a: int, b: int) -> None:
    scheme = LevelScheme()
    low, high = sorted((a, b))
    assert scheme.level_of(low) <= scheme.level_of(high)
