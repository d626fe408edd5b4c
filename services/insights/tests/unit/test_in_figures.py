"""Figures are a function of the set of facts: any order, any duplicates, the same figures
as a brute-force count over the facts in order (property tests), on local days."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from insights.figures import domain
from insights.figures.domain import ENDS, Facts, MemberFact, MemberKind, identity
from insights.figures.events import facts_of

T0 = datetime(2026, 11, 30, 12, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
FIRST, LAST = date(2026, 12, 1), date(2026, 12, 20)
MEMBERSHIP = "quanzi.onboarding.membership."


def _at(hours: int) -> str:
    return (T0 + timedelta(hours=hours)).isoformat()


def member_event(kind: str, member: str, hours: int, **data: Any) -> tuple[str, dict[str, Any]]:
    stamp = {"activated": "activated_at"}.get(kind, f"{kind}_at")
    base = {
        "tenant_id": "t",
        "membership_id": f"ms-{member}",
        "member_id": member,
        "community_id": "c-1",
        stamp: _at(hours),
    }
    return MEMBERSHIP + kind + ".v1", {**base, **data}


def activated(member: str, hours: int, paid: bool, upgrade: bool) -> tuple[str, dict[str, Any]]:
    return member_event(
        "activated",
        member,
        hours,
        tier="core" if paid else "trial",
        term_ends_at=_at(hours + 24 * 365) if paid else None,
        trial_ends_at=None if paid else _at(hours + 24 * 7),
        previous_tier="trial" if upgrade else None,
        source={"kind": "routing_code", "code": "A1", "channel": "poster"},
    )


def engagement(kind: str, ref: str, member: str, hours: int) -> tuple[str, dict[str, Any]]:
    at = _at(hours)
    if kind == "post":
        data = {
            "post_id": ref,
            "author_id": member,
            "author_kind": "member",
            "community_ids": ["c-1"],
            "published_at": at,
        }
        return "quanzi.content.post.published.v1", data
    if kind == "comment":
        data = {
            "comment_id": ref,
            "post_id": "p",
            "author_id": member,
            "author_kind": "member",
            "community_id": "c-1",
            "approved_at": at,
        }
        return "quanzi.content.comment.approved.v1", data
    if kind == "checkin":
        data = {"checkin_id": ref, "member_id": member, "community_id": "c-1", "checked_at": at}
        return "quanzi.activities.checkin.recorded.v1", data
    data = {"attempt_id": ref, "member_id": member, "community_id": "c-1", "completed_at": at}
    return "quanzi.activities.quiz.completed.v1", data


def points(ref: str, member: str, hours: int, value: int) -> tuple[str, dict[str, Any]]:
    kind = "credited" if value > 0 else "debited"
    data = {
        "entry_key": ref,
        "member_id": member,
        "community_id": "c-1",
        "points": value,
        "occurred_at": _at(hours),
    }
    return f"quanzi.rewards.points.{kind}.v1", data


MEMBERS = [f"m{i}" for i in range(6)]
HOURS = st.integers(min_value=0, max_value=24 * 21)
ENDINGS = ["left", "removed", "refunded", "expired", "banned", "renewed", "reinstated"]

one_event = st.one_of(
    st.builds(activated, st.sampled_from(MEMBERS), HOURS, st.booleans(), st.booleans()),
    st.builds(member_event, st.sampled_from(ENDINGS), st.sampled_from(MEMBERS), HOURS),
    # A fact's id names one fact: the same id always comes with the same member and time.
    st.builds(
        lambda kind, member, hours: engagement(kind, f"{kind}-{member}-{hours}", member, hours),
        st.sampled_from(["post", "comment", "checkin", "quiz"]),
        st.sampled_from(MEMBERS),
        HOURS,
    ),
    st.builds(
        lambda member, hours, value: points(f"e-{member}-{hours}-{value}", member, hours, value),
        st.sampled_from(MEMBERS),
        HOURS,
        st.integers(min_value=-50, max_value=50).filter(bool),
    ),
)
histories = st.lists(one_event, min_size=1, max_size=40)


def store(events: list[tuple[str, dict[str, Any]]]) -> Facts:
    facts = Facts()
    for event_type, data in events:
        for fact in facts_of(event_type, data):
            facts.add(fact)
    return facts


def computed(facts: Facts, tz: ZoneInfo) -> list[domain.DayFigures]:
    members, engaged, pts = domain.rows_of(facts, "c-1", tz)
    return domain.series(members, engaged, pts, FIRST, LAST)


def brute_force(events: list[tuple[str, dict[str, Any]]], tz: ZoneInfo) -> list[dict[str, Any]]:
    """Count each fact once (the first time it is seen), day by day, the slow way."""
    seen: set[tuple[object, ...]] = set()
    facts = []
    for event_type, data in events:
        for fact in facts_of(event_type, data):
            if identity(fact) not in seen:
                seen.add(identity(fact))
                facts.append(fact)

    def day(at: datetime) -> date:
        return at.astimezone(tz).date()

    out = []
    d = FIRST
    while d <= LAST:
        figures: dict[str, Any] = defaultdict(int)
        figures["day"] = d
        latest: dict[str, tuple[datetime, bool]] = {}
        active_by_day: dict[date, set[str]] = defaultdict(set)
        for f in facts:
            if isinstance(f, MemberFact):
                if day(f.at) == d and f.kind not in (MemberKind.BANNED, MemberKind.REINSTATED):
                    figures[f.kind.value] += 1
                if day(f.at) <= d:
                    rank = (f.at, f.kind in ENDS)
                    if f.membership_id not in latest or rank > latest[f.membership_id]:
                        latest[f.membership_id] = rank
            elif isinstance(f, domain.Engagement):
                active_by_day[day(f.at)].add(f.member_id)
                if day(f.at) == d:
                    figures[domain.MIX[f.kind]] += 1
            elif day(f.at) == d:
                figures["points_earned"] += f.earned
                figures["points_spent"] += f.spent
        figures["members"] = sum(1 for _, ended in latest.values() if not ended)
        figures["active"] = len(active_by_day[d])
        for name, n in (("wau", 7), ("mau", 30)):
            window: set[str] = set()
            for back in range(n):
                window |= active_by_day[d - timedelta(days=back)]
            figures[name] = len(window)
        out.append(dict(figures))
        d += timedelta(days=1)
    return out


def as_dicts(series: list[domain.DayFigures]) -> list[dict[str, Any]]:
    return [{k: v for k, v in vars(f).items() if v} | {"day": f.day} for f in series]


@settings(max_examples=150, deadline=None)
@given(histories, st.randoms(use_true_random=False), st.sampled_from([SHANGHAI, NEW_YORK]))
def test_figures_equal_a_brute_force_count_in_any_order_with_duplicates(
    events: list[tuple[str, dict[str, Any]]], rnd: random.Random, tz: ZoneInfo
) -> None:
    expected = [
        {k: v for k, v in f.items() if v} | {"day": f["day"]} for f in brute_force(events, tz)
    ]
    replayed = events + rnd.sample(events, k=len(events) // 2)  # redeliveries
    rnd.shuffle(replayed)
    assert as_dicts(computed(store(replayed), tz)) == expected
    assert computed(store(replayed), tz) == computed(store(events), tz)


def test_a_day_is_the_communitys_local_day() -> None:
    # 15:59 and 16:01 UTC are two Shanghai days (midnight at 16:00 UTC).
    late = datetime(2026, 12, 1, 15, 59, tzinfo=UTC)
    events = [
        engagement("post", "p1", "m1", int((late - T0).total_seconds() // 3600)),
    ]
    facts = store(events)
    shanghai = computed(facts, SHANGHAI)
    assert [f.day for f in shanghai if f.posts] == [date(2026, 12, 1)]
    facts = Facts()
    for at in (late, late + timedelta(minutes=2)):
        facts.add(domain.Engagement(domain.EngagementKind.CHECKIN, at.isoformat(), "c-1", "m1", at))
    days = [f.day for f in computed(facts, SHANGHAI) if f.checkins]
    assert days == [date(2026, 12, 1), date(2026, 12, 2)]


def test_joined_activated_paid_of_a_trial_that_pays() -> None:
    facts = store([activated("m1", 5, paid=False, upgrade=False), activated("m1", 30, True, True)])
    by_day = {f.day: f for f in computed(facts, SHANGHAI)}
    first, second = by_day[date(2026, 12, 1)], by_day[date(2026, 12, 2)]
    assert (first.joined, first.activated, first.paid, first.members) == (1, 1, 0, 1)
    assert (second.joined, second.activated, second.paid, second.members) == (0, 1, 1, 1)


def test_an_operators_post_is_not_engagement() -> None:
    event_type, data = engagement("post", "p1", "op-1", 5)
    assert facts_of(event_type, {**data, "author_kind": "operator"}) == []


def test_activity_rate_is_active_over_members() -> None:
    f = domain.DayFigures(day=FIRST, members=8, active=2)
    assert f.activity_rate == 0.25
    assert domain.DayFigures(day=FIRST).activity_rate == 0.0


def test_membership_state_in_any_order() -> None:
    base = [
        facts_of(*activated("m1", 1, paid=True, upgrade=False)),
        facts_of(*member_event("left", "m1", 10)),
        facts_of(*member_event("reinstated", "m1", 10)),
        facts_of(*member_event("renewed", "m1", 5)),
    ]
    flat = [f for group in base for f in group if isinstance(f, MemberFact)]
    states = set()
    for seed in range(20):
        rnd = random.Random(seed)
        order = flat[:]
        rnd.shuffle(order)
        state = None
        for f in order:
            state = domain.fold_membership(state, f)
        states.add(state)
    [state] = states
    assert state is not None and not state.active  # the end wins the tie at hour 10
    assert state.source == domain.Source("routing_code", "A1", "poster")


def test_periods() -> None:
    today = date(2026, 12, 20)
    assert domain.period(None, None, today) == (date(2026, 11, 21), today)
    for bad in ((date(2026, 12, 2), date(2026, 12, 1)), (date(2025, 1, 1), date(2026, 12, 1))):
        try:
            domain.period(*bad, today)
        except domain.PeriodError:
            continue
        raise AssertionError(bad)
    try:
        domain.period(date(1, 1, 1), None, today)
    except domain.PeriodError:
        pass
    else:
        raise AssertionError("year 1")


def test_a_dst_day_in_new_york_is_25_hours_long() -> None:
    # New York leaves DST on 1 Nov 2026: 00:30 EDT is 04:30 UTC, 23:30 EST is 04:30 UTC
    # the next day; both are 1 November, and 00:30 EST on 2 November is another day.
    facts = Facts()
    for n, at in enumerate(
        (
            datetime(2026, 11, 1, 4, 30, tzinfo=UTC),
            datetime(2026, 11, 2, 4, 30, tzinfo=UTC),
            datetime(2026, 11, 2, 5, 30, tzinfo=UTC),
        )
    ):
        facts.add(domain.Engagement(domain.EngagementKind.POST, f"p{n}", "c-1", f"m{n}", at))
    members, engaged, points = domain.rows_of(facts, "c-1", NEW_YORK)
    days = domain.series(members, engaged, points, date(2026, 11, 1), date(2026, 11, 2))
    assert [(f.posts, f.active) for f in days] == [(2, 2), (1, 1)]
    assert days[1].wau == 3
