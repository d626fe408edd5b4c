"""Silence: the instant a member goes silent (local days, DST), the hold-out arm, and
reactivation in any order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from insights.silence import domain

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")


def test_silent_after_n_whole_local_days() -> None:
    # Last seen 1 Dec 23:30 Shanghai (15:30 UTC): 14 idle days are 2..15 Dec; silent from
    # the start of 16 Dec Shanghai = 15 Dec 16:00 UTC.
    last = datetime(2026, 12, 1, 15, 30, tzinfo=UTC)
    assert domain.silent_at(last, 14, SHANGHAI) == datetime(2026, 12, 15, 16, tzinfo=UTC)
    # 30 minutes later it is 2 Dec in Shanghai: one more day.
    later = last + timedelta(minutes=31)
    assert domain.silent_at(later, 14, SHANGHAI) == datetime(2026, 12, 16, 16, tzinfo=UTC)


def test_silence_begins_at_a_local_midnight_across_dst() -> None:
    # New York leaves DST on 1 Nov 2026: midnight is 04:00 UTC before, 05:00 UTC after.
    last = datetime(2026, 10, 28, 15, tzinfo=UTC)  # 11:00 EDT, 28 Oct
    assert domain.silent_at(last, 7, NEW_YORK) == datetime(2026, 11, 5, 5, tzinfo=UTC)
    last = datetime(2026, 10, 20, 15, tzinfo=UTC)
    assert domain.silent_at(last, 7, NEW_YORK) == datetime(2026, 10, 28, 4, tzinfo=UTC)


def test_the_hold_out_is_deterministic_and_near_its_share() -> None:
    members = [f"m-{i}" for i in range(4000)]
    held = [m for m in members if domain.held_out("t", "c-1", m, 10)]
    assert 0.08 < len(held) / len(members) < 0.12
    assert held == [m for m in members if domain.held_out("t", "c-1", m, 10)]
    assert not any(domain.held_out("t", "c-1", m, 0) for m in members)
    assert all(domain.held_out("t", "c-1", m, 100) for m in members)
    # a larger share keeps everyone the smaller one held out
    assert set(held) <= {m for m in members if domain.held_out("t", "c-1", m, 30)}


T0 = datetime(2026, 12, 1, tzinfo=UTC)


def test_goes_silent_only_when_nothing_moved_the_instant() -> None:
    p = domain.Presence(T0, True)
    due = domain.silent_at(T0, 14, SHANGHAI)
    assert domain.goes_silent(p, due, 14, SHANGHAI)
    assert not domain.goes_silent(p, due - timedelta(seconds=1), 14, SHANGHAI)
    moved = domain.seen(p, T0 + timedelta(days=3)).presence
    assert not domain.goes_silent(moved, due, 14, SHANGHAI)
    assert not domain.goes_silent(domain.Presence(T0, False), due, 14, SHANGHAI)
    assert not domain.goes_silent(None, due, 14, SHANGHAI)


def test_engagement_after_the_silence_reactivates_once() -> None:
    since = T0 + timedelta(days=15)
    silent = domain.Presence(T0, True, since)
    stale = domain.seen(silent, T0 + timedelta(days=2))  # a late event from before
    assert stale.ended_silence is None and stale.presence.silent_since == since
    back = domain.seen(silent, since + timedelta(hours=3))
    assert back.ended_silence == since and back.presence.silent_since is None
    again = domain.seen(back.presence, since + timedelta(hours=4))
    assert again.ended_silence is None


@given(st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=20), st.randoms())
def test_the_last_engagement_is_the_latest_in_any_order(minutes: list[int], rnd: object) -> None:
    def fold(order: list[int]) -> domain.Presence:
        p = None
        for m in order:
            p = domain.seen(p, T0 + timedelta(minutes=m)).presence
        assert p is not None
        return p

    shuffled = minutes[:]
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert fold(shuffled) == fold(minutes)
    assert fold(minutes).last_engaged_at == T0 + timedelta(minutes=max(minutes))


def test_report_compares_the_arms() -> None:
    r = domain.report([(False, True), (False, False), (False, True), (True, False), (True, True)])
    assert (r.contacted.silent, r.contacted.reactivated) == (3, 2)
    assert (r.held_out.silent, r.held_out.reactivated) == (2, 1)
    assert r.contacted.rate == 0.6667 and r.held_out.rate == 0.5 and r.lift == 0.1667
    empty = domain.report([])
    assert empty.contacted.rate == 0.0 and empty.lift == 0.0
