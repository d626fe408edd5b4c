"""Retention cohorts and the channel funnel against brute-force counts."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from insights.channels.domain import ChannelKey, Conversion, funnel
from insights.cohorts.domain import WEEKS, cohorts, week_of

START = date(2026, 9, 7)  # a Monday
days = st.integers(min_value=0, max_value=120).map(lambda n: START + timedelta(days=n))
members = st.sampled_from([f"m{i}" for i in range(8)])


@given(
    st.lists(st.tuples(members, days), max_size=12),
    st.lists(st.tuples(members, days), max_size=60),
    days,
)
def test_cohorts_equal_a_brute_force_count(
    joins: list[tuple[str, date]], active: list[tuple[str, date]], today: date
) -> None:
    found = {c.week: c for c in cohorts(joins, active, today)}
    first: dict[str, date] = {}
    for m, d in sorted(joins, key=lambda j: j[1]):
        first.setdefault(m, d)
    assert sum(c.size for c in found.values()) == len(first)
    for d in first.values():
        cohort = found[week_of(d)]
        for k in WEEKS:
            start = week_of(d) + timedelta(days=7 * k)
            if start + timedelta(days=6) > today:
                assert cohort.retained[k] is None
    for week, cohort in found.items():
        mine = [m for m, d in first.items() if week_of(d) == week]
        assert cohort.size == len(mine)
        for k in WEEKS:
            if cohort.retained[k] is None:
                continue
            start = week + timedelta(days=7 * k)
            kept = {m for m, d in active if m in mine and start <= d < start + timedelta(days=7)}
            assert cohort.retained[k] == len(kept)
    assert list(found) == sorted(found)


def test_a_cohort_share() -> None:
    joins = [("a", START), ("b", START + timedelta(days=2))]
    active = [("a", START + timedelta(days=8)), ("b", START + timedelta(days=60))]
    [c] = cohorts(joins, active, START + timedelta(days=100))
    assert c.size == 2 and c.share(1) == 0.5 and c.share(8) == 0.5 and c.share(2) == 0.0


keys = st.sampled_from(
    [
        ChannelKey("routing_code", "A", "poster"),
        ChannelKey("invite", "K", None),
        ChannelKey("open", None, None),
    ]
)


@given(st.lists(st.builds(Conversion, keys, st.booleans(), st.booleans(), st.booleans())))
def test_funnel_counts_each_membership_once(conversions: list[Conversion]) -> None:
    found = funnel(conversions)
    assert sum(f.joined for f in found) == len(conversions)
    for f in found:
        mine = [c for c in conversions if c.channel == f.channel]
        assert (f.joined, f.paid, f.renewed, f.refunded) == (
            len(mine),
            sum(c.paid for c in mine),
            sum(c.renewed for c in mine),
            sum(c.refunded for c in mine),
        )
        assert f.paid_rate == round(f.paid / f.joined, 4)
    assert [f.joined for f in found] == sorted((f.joined for f in found), reverse=True)
