"""Referral rules: counting with refunds, windows, cycles and the daily cap against a
brute-force model (property test); tiers following the count (clawback); flags; ranks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import product
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from activities.referrals.domain import (
    Campaign,
    Counting,
    Exclusion,
    InvalidCampaign,
    Join,
    Tier,
    ancestors,
    count,
    rank,
    reached,
    settle,
)

T0 = datetime(2026, 12, 1, tzinfo=UTC)  # 08:00 in Shanghai
SHANGHAI = ZoneInfo("Asia/Shanghai")
MEMBERS = ["a", "b", "c", "d", "e"]


def campaign(**kw: object) -> Campaign:
    values: dict[str, object] = {
        "starts_at": T0,
        "ends_at": T0 + timedelta(days=10),
        "tiers": (Tier(3, 100), Tier(10, 500, "裂变达人")),
    }
    values.update(kw)
    return Campaign(**values)  # type: ignore[arg-type]


def join(n: int, inviter: str, invitee: str, hours: float = 0, **kw: object) -> Join:
    values: dict[str, object] = {
        "membership_id": f"ms-{n}",
        "member_id": invitee,
        "inviter_id": inviter,
        "activated_at": T0 + timedelta(hours=hours),
    }
    values.update(kw)
    return Join(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "bad",
    [
        {"ends_at": T0},
        {"tiers": ()},
        {"tiers": (Tier(3), Tier(3))},
        {"tiers": (Tier(5), Tier(3))},
        {"tiers": (Tier(0),)},
        {"tiers": (Tier(1, -1),)},
        {"daily_cap": 0},
    ],
)
def test_contradicting_settings_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(InvalidCampaign):
        campaign(**bad)


def test_a_paid_join_counts_once_its_window_is_over_unless_refunded_inside_it() -> None:
    window = T0 + timedelta(days=3)
    joins = [
        join(1, "a", "b", paid=True, window_ends_at=window),
        join(2, "a", "c", paid=True, window_ends_at=window),
        join(3, "a", "d", paid=True, window_ends_at=window, refunded_at=T0 + timedelta(days=1)),
    ]
    before = count(campaign(), joins, set(), SHANGHAI, T0 + timedelta(days=2))
    assert before.total == 0 and before.pending == 2
    assert before.excluded["ms-3"] is Exclusion.REFUNDED
    after = count(campaign(), joins, set(), SHANGHAI, window)
    assert [j.member_id for j in after.counted] == ["b", "c"]
    paid = campaign(counting=Counting.PAID)
    assert count(paid, joins, set(), SHANGHAI, T0 + timedelta(hours=1)).total == 3  # at once
    assert count(paid, joins, set(), SHANGHAI, T0 + timedelta(days=2)).total == 2  # refunded
    late = join(4, "a", "e", paid=True, window_ends_at=window, refunded_at=window + timedelta(1))
    assert count(campaign(), [late], set(), SHANGHAI, window + timedelta(days=2)).total == 1


def test_self_invites_cycles_channels_and_the_period() -> None:
    invited_by = {"a": {"c"}, "c": {"b"}}  # b invited c, c invited a
    joins = [
        join(1, "a", "a"),
        join(2, "a", "b"),  # a invites b who is among a's inviters: the cycle b→c→a→b
        join(3, "a", "d", channel="other"),
        join(4, "a", "e", hours=-1),
        join(5, "a", "f"),
    ]
    found = count(campaign(), joins, ancestors(invited_by, "a"), SHANGHAI, T0 + timedelta(days=1))
    assert [j.member_id for j in found.counted] == ["d", "f"]
    assert found.excluded == {
        "ms-1": Exclusion.SELF_INVITE,
        "ms-2": Exclusion.CYCLE,
        "ms-4": Exclusion.OUTSIDE_PERIOD,
    }
    assert found.flags == {"self_invite", "cycle"}
    channel = count(campaign(channel="poster"), joins, set(), SHANGHAI, T0 + timedelta(days=1))
    assert channel.excluded["ms-3"] is Exclusion.OTHER_CHANNEL


def test_the_daily_cap_counts_on_the_communitys_local_day() -> None:
    # 15:59 and 16:01 UTC are two days in Shanghai (midnight is 16:00 UTC).
    joins = [
        join(1, "a", "b", hours=15 + 59 / 60),
        join(2, "a", "c", hours=16 + 1 / 60),
        join(3, "a", "d", hours=17),
    ]
    found = count(campaign(daily_cap=1), joins, set(), SHANGHAI, T0 + timedelta(days=1))
    assert [j.member_id for j in found.counted] == ["b", "c"]
    assert found.excluded == {"ms-3": Exclusion.OVER_DAILY_CAP}
    assert "over_daily_cap" in found.flags
    utc = count(campaign(daily_cap=1), joins, set(), ZoneInfo("UTC"), T0 + timedelta(days=1))
    assert utc.total == 1


def test_two_refunded_invitees_flag_the_inviter() -> None:
    joins = [join(i, "a", f"m{i}", refunded_at=T0 + timedelta(hours=1)) for i in range(2)]
    assert count(campaign(), joins, set(), SHANGHAI, T0 + timedelta(hours=2)).flags == {"refunds"}


# --- the brute-force model ------------------------------------------------------------

JOINS = st.lists(
    st.tuples(
        st.sampled_from(MEMBERS),  # inviter
        st.sampled_from(MEMBERS),  # invitee
        st.integers(-24, 24 * 12),  # activated, hours after T0
        st.booleans(),  # paid (with a 72 h window)
        st.one_of(st.none(), st.integers(0, 24 * 5)),  # refunded, hours after activation
        st.sampled_from([None, "poster"]),
    ),
    max_size=25,
)


def _closure(edges: list[tuple[str, str]]) -> dict[tuple[str, str], bool]:
    reach = {(x, y): (x, y) in set(edges) for x, y in product(MEMBERS, MEMBERS)}
    for k, i, j in product(MEMBERS, MEMBERS, MEMBERS):
        if reach[i, k] and reach[k, j]:
            reach[i, j] = True
    return reach


def _eligible(
    j: Join, inviter: str, c: Campaign, reach: dict[tuple[str, str], bool], now: datetime
) -> bool:
    """The rules as written, one join at a time (the daily cap aside)."""
    if j.activated_at > now or not c.starts_at <= j.activated_at < c.ends_at:
        return False
    if c.channel is not None and j.channel != c.channel:
        return False
    if j.member_id == inviter or reach[j.member_id, inviter]:  # self or a cycle
        return False
    refunded = j.refunded_at is not None and j.refunded_at <= now
    if refunded and (j.window_ends_at is None or j.refunded_at < j.window_ends_at):  # type: ignore[operator]
        return False
    if c.counting is Counting.PAID:
        return j.paid
    return j.window_ends_at is None or now >= j.window_ends_at


@given(
    JOINS,
    st.sampled_from(list(Counting)),
    st.sampled_from([None, "poster"]),
    st.integers(1, 4),
    st.integers(0, 24 * 16),
)
def test_counting_matches_a_brute_force_model(
    raw: list[tuple[str, str, int, bool, int | None, str | None]],
    counting: Counting,
    channel: str | None,
    cap: int,
    now_h: int,
) -> None:
    joins = [
        join(
            n,
            inviter,
            invitee,
            hours,
            paid=paid,
            window_ends_at=T0 + timedelta(hours=hours + 72) if paid else None,
            refunded_at=None if refund is None else T0 + timedelta(hours=hours + refund),
            channel=chan,
        )
        for n, (inviter, invitee, hours, paid, refund, chan) in enumerate(raw)
    ]
    c = campaign(counting=counting, channel=channel, daily_cap=cap)
    now = T0 + timedelta(hours=now_h)
    reach = _closure([(j.inviter_id, j.member_id) for j in joins])
    invited_by: dict[str, set[str]] = {}
    for j in joins:
        invited_by.setdefault(j.member_id, set()).add(j.inviter_id)
    for inviter in MEMBERS:
        mine = [j for j in joins if j.inviter_id == inviter]
        found = count(c, mine, ancestors(invited_by, inviter), SHANGHAI, now)

        expected: list[str] = []
        by_day: dict[object, int] = {}
        for j in sorted(mine, key=lambda j: (j.activated_at, j.member_id, j.membership_id)):
            if _eligible(j, inviter, c, reach, now):
                day = j.activated_at.astimezone(SHANGHAI).date()
                if by_day.get(day, 0) < cap:
                    by_day[day] = by_day.get(day, 0) + 1
                    expected.append(j.membership_id)
        assert [j.membership_id for j in found.counted] == expected


# --- tiers, clawback, ranks ------------------------------------------------------------


@given(
    st.lists(st.integers(0, 15), min_size=1, max_size=20),
    st.booleans(),
    st.booleans(),
)
def test_tiers_follow_the_count(totals: list[int], flagged: bool, cleared: bool) -> None:
    c = campaign(tiers=(Tier(1, 10), Tier(3, 30), Tier(10, 100)))
    granted: set[int] = set()
    for total in totals:
        changes = settle(c, total, granted, flagged=flagged, cleared=cleared)
        assert not set(changes.grant) & set(changes.revoke)
        assert set(changes.revoke) <= granted and not set(changes.grant) & granted
        granted = (granted - set(changes.revoke)) | set(changes.grant)
        if flagged and not cleared:
            assert granted <= reached(c, total)  # withheld, never more than met
            assert set(changes.withheld) == reached(c, total) - granted
        else:
            assert granted == reached(c, total)


def test_the_leaderboard_breaks_ties_by_who_reached_it_first() -> None:
    rows = [
        ("b", 3, T0 + timedelta(hours=2)),
        ("a", 3, T0 + timedelta(hours=2)),
        ("c", 3, T0 + timedelta(hours=1)),
        ("d", 5, T0 + timedelta(hours=9)),
        ("e", 0, None),
    ]
    assert rank(rows) == [("d", 5), ("c", 3), ("a", 3), ("b", 3)]
    assert rank(reversed(rows)) == rank(rows)
