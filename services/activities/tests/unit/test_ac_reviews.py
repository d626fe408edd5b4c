"""Campaign reviews' rules: the funnel (rates in [0, 1], counts never rising, from any
fact set), by community, the comparison, the audience at the start, each kind's stages,
and referral channels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from activities.reviews.domain import (
    RECORDED,
    STAGES,
    Fact,
    Invited,
    Kind,
    Points,
    StageCount,
    by_community,
    channels,
    compare,
    funnel,
    in_audience,
    meetup_stage,
    points_change,
    rate,
    referral_stage,
    talk_stage,
)

T0 = datetime(2026, 12, 1, tzinfo=UTC)
DAY = timedelta(days=1)
R, G, T, C, W = STAGES

facts_st = st.lists(
    st.builds(
        Fact,
        member_id=st.sampled_from([f"m-{i}" for i in range(8)]),
        stage=st.sampled_from(STAGES),
        community_id=st.sampled_from([None, "c-1", "c-2"]),
    ),
    max_size=40,
)


@given(st.sampled_from(list(Kind)), facts_st)
def test_rates_are_in_0_1_and_stages_never_rise_along_the_funnel(
    kind: Kind, facts: list[Fact]
) -> None:
    for stages in (funnel(kind, facts), *by_community(kind, facts).values()):
        assert [s.stage for s in stages] == list(RECORDED[kind])
        counts = [s.count for s in stages]
        assert counts == sorted(counts, reverse=True)
        for s in stages:
            assert 0.0 <= s.of_previous <= 1.0 and 0.0 <= s.of_reached <= 1.0


@given(st.sampled_from(list(Kind)), facts_st)
def test_a_stage_counts_the_members_whose_deepest_recorded_stage_is_it_or_later(
    kind: Kind, facts: list[Fact]
) -> None:
    """Brute force: for each stage, the members with a fact of it or of a later one."""
    stages = RECORDED[kind]
    for i, counted in enumerate(funnel(kind, facts)):
        later = set(stages[i:])
        assert counted.count == len({f.member_id for f in facts if f.stage in later})


def test_an_example_funnel_with_its_rates() -> None:
    facts = [Fact(f"m-{i}", R, "c-1") for i in range(10)]
    facts += [Fact("m-0", G), Fact("m-1", G), Fact("m-2", G), Fact("m-3", G)]
    facts += [Fact("m-0", T), Fact("m-1", C), Fact("late", C, "c-1")]  # joined after the start
    stages = funnel(Kind.MEETUP, facts)
    assert [(s.stage, s.count) for s in stages] == [(R, 11), (G, 5), (T, 3), (C, 2)]
    assert [s.of_previous for s in stages] == [1.0, rate(5, 11), 0.6, rate(2, 3)]
    assert stages[2].of_reached == 0.2727
    assert funnel(Kind.POLL, []) == (StageCount(R, 0, 0.0, 0.0), StageCount(T, 0, 0.0, 0.0))


def test_by_community_counts_a_member_in_each_of_their_communities() -> None:
    facts = [Fact("a", R, "c-1"), Fact("a", R, "c-2"), Fact("b", R, "c-2"), Fact("b", T, "c-2")]
    facts += [Fact("b", T), Fact("z", W)]  # None: the total only
    found = by_community(Kind.CONTEST, facts)
    assert list(found) == ["c-1", "c-2"]
    assert [s.count for s in found["c-1"]] == [1, 0, 0]
    assert [s.count for s in found["c-2"]] == [2, 1, 0]
    assert [s.count for s in funnel(Kind.CONTEST, facts)] == [3, 2, 1]


def test_the_comparison_is_this_minus_the_previous_stage_by_stage() -> None:
    now = funnel(Kind.DRAW, [Fact("a", R), Fact("b", W), Fact("c", T)])
    before = funnel(Kind.DRAW, [Fact("a", R), Fact("b", R)])
    changes = compare(now, before)
    assert [(c.stage, c.count, c.of_reached) for c in changes] == [
        (R, 1, 0.0),
        (T, 2, 0.6667),
        (W, 1, 0.3333),
    ]
    assert points_change(Points(awarded=30), Points(awarded=50)) == Points(awarded=-20)
    assert points_change(Points(charged=5), Points()) == Points()  # not known: no difference


def test_the_audience_at_the_start_from_the_current_state() -> None:
    before, after = T0 - timedelta(days=1), T0 + timedelta(hours=1)
    assert in_audience(True, before, before, T0)  # active since before
    assert in_audience(True, T0, T0, T0)
    assert in_audience(True, before, after, T0)  # moved to a group since: still a member
    assert not in_audience(True, after, after, T0)  # joined after the start
    assert in_audience(True, after, before, T0)  # renewed after the start
    assert in_audience(False, after, before, T0)  # left after the start
    assert not in_audience(False, after, after, T0)  # joined and left after the start
    assert not in_audience(False, before, before, T0)  # gone before
    assert in_audience(True, None, None, T0)  # seated, no status event yet
    assert not in_audience(True, after, None, T0)


def test_each_kind_s_rows_give_its_stages() -> None:
    assert meetup_stage("waitlisted") is G and meetup_stage("cancelled") is G
    assert meetup_stage("confirmed") is T and meetup_stage("no_show") is T
    assert meetup_stage("attended") is C
    assert talk_stage(30, 60) is C and talk_stage(29, 60) is T and talk_stage(0, 0) is C
    assert referral_stage(1, 3, []) is T
    assert referral_stage(3, 3, []) is C  # met, withheld for an operator's look
    assert referral_stage(3, 3, [0]) is W


def test_referral_channels_count_the_period_s_joins_of_the_campaign_s_channel() -> None:
    def join(
        mid: str,
        inviter: str,
        channel: str | None,
        hours: int,
        *,
        paid: bool = False,
        window_ends_at: datetime | None = None,
        refunded_at: datetime | None = None,
    ) -> Invited:
        at = T0 + timedelta(hours=hours)
        return Invited(mid, inviter, channel, at, paid, window_ends_at, refunded_at)

    window = T0 + timedelta(days=7)
    joins = [
        join("j1", "a", "poster", 1, paid=True, window_ends_at=window),
        join("j2", "a", "poster", 2, paid=True, window_ends_at=window, refunded_at=T0 + DAY),
        join("j3", "b", "poster", 3, paid=True, window_ends_at=T0, refunded_at=window),  # late
        join("j4", "b", None, 4),
        join("j5", "c", "wechat", 5),
        join("j6", "c", "poster", -1),  # before the period
    ]
    rows = channels(joins, T0, T0 + timedelta(days=30), None, {"j1", "j2", "j4"})
    assert [(r.channel, r.inviters, r.joined, r.paid, r.refunded, r.converted) for r in rows] == [
        (None, 1, 1, 0, 0, 1),
        ("poster", 2, 3, 3, 1, 1),
        ("wechat", 1, 1, 0, 0, 0),
    ]
    assert rows[1].converted_rate == 0.3333
    only = channels(joins, T0, T0 + timedelta(days=30), "wechat", set())
    assert [r.channel for r in only] == ["wechat"]
