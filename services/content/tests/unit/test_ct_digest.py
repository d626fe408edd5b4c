"""The daily digest's pure rules: ranking by weighted engagement, the local day's bounds
and the next run across DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from content.digest.domain import TOP, Candidate, compose, day_bounds, next_run, rank

NEW_YORK, SHANGHAI = ZoneInfo("America/New_York"), ZoneInfo("Asia/Shanghai")
NOON = datetime(2026, 12, 3, 4, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def post(
    pid: str,
    likes: int = 0,
    comments: int = 0,
    shares: int = 0,
    rec: bool = False,
    minutes: int = 0,
    title: str | None = None,
) -> Candidate:
    return Candidate(
        pid, title, f"正文 {pid}", NOON + timedelta(minutes=minutes), likes, comments, shares, rec
    )


def test_weights_and_ties() -> None:
    posts = [
        post("likes", likes=5),  # 5
        post("talk", comments=3),  # 6
        post("shared", shares=2),  # 6, newer than talk: first of the two
        post("picked", rec=True),  # 5, older than likes
        post("quiet"),  # 0: left out
    ]
    posts[2] = post("shared", shares=2, minutes=5)
    posts[0] = post("likes", likes=5, minutes=1)
    assert [c.post_id for c in rank(posts)] == ["shared", "talk", "likes", "picked"]
    assert rank([post("quiet")]) == []


candidates = st.lists(
    st.builds(
        post,
        st.uuids().map(str),
        st.integers(0, 50),
        st.integers(0, 50),
        st.integers(0, 50),
        st.booleans(),
        st.integers(0, 1000),
    ),
    max_size=30,
    unique_by=lambda c: c.post_id,
)


@given(candidates)
def test_ranking_keeps_the_best_engaged_in_order(found: list[Candidate]) -> None:
    picked = rank(found)
    assert len(picked) == min(TOP, sum(1 for c in found if c.score > 0))
    scores = [c.score for c in picked]
    assert scores == sorted(scores, reverse=True)
    left_out = [c for c in found if c not in picked and c.score > 0]
    assert all(c.score <= picked[-1].score for c in left_out)
    assert rank(list(reversed(found))) == picked  # the input order never matters


def test_local_days_are_23_or_25_hours_on_dst_days() -> None:
    start, end = day_bounds(date(2026, 3, 8), NEW_YORK)
    assert (start, end - start) == (utc(2026, 3, 8, 5), timedelta(hours=23))
    start, end = day_bounds(date(2026, 11, 1), NEW_YORK)
    assert (start, end - start) == (utc(2026, 11, 1, 4), timedelta(hours=25))
    start, end = day_bounds(date(2026, 3, 8), SHANGHAI)
    assert (start, end - start) == (utc(2026, 3, 7, 16), timedelta(hours=24))


def test_next_run_is_the_local_time_on_the_next_day_it_has_not_passed() -> None:
    at = time(21, 0)
    assert next_run(at, NEW_YORK, utc(2026, 3, 7, 12)) == (date(2026, 3, 7), utc(2026, 3, 8, 2))
    assert next_run(at, NEW_YORK, utc(2026, 3, 8, 2)) == (date(2026, 3, 8), utc(2026, 3, 9, 1))
    assert next_run(at, SHANGHAI, utc(2026, 3, 8, 12, 59)) == (
        date(2026, 3, 8),
        utc(2026, 3, 8, 13),
    )
    assert next_run(at, SHANGHAI, utc(2026, 3, 8, 13)) == (date(2026, 3, 9), utc(2026, 3, 9, 13))


def test_the_digest_lists_headlines_best_first() -> None:
    picked = rank([post("a", likes=1, title="早安打卡"), post("b", shares=1, title="x" * 60)])
    title, body = compose(date(2026, 12, 3), picked)
    assert title == "日报 2026-12-03"
    lines = body.splitlines()
    assert lines[0].startswith("1. " + "x" * 39 + "…") and lines[1].startswith("2. 早安打卡")
