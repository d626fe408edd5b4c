"""Feed "top" scoring, directly: engagement weights, time decay, a stable order."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from content.top.domain import DECAY, WEIGHTS, Engagement, score, weighted

T0 = datetime(2026, 12, 1, 8, tzinfo=UTC)
COUNTS = st.integers(0, 10_000)
ENGAGEMENT = st.builds(Engagement, COUNTS, COUNTS, COUNTS, COUNTS, COUNTS)
FIELDS = ("views", "likes", "bookmarks", "comments", "shares")


@given(ENGAGEMENT, st.sampled_from(FIELDS), st.integers(0, 10**6))
def test_more_engagement_of_any_kind_never_ranks_lower(
    engagement: Engagement, field: str, seconds: int
) -> None:
    at = T0 + timedelta(seconds=seconds)
    more = Engagement(**{**engagement.__dict__, field: getattr(engagement, field) + 1})
    assert score(more, at) > score(engagement, at)


@given(ENGAGEMENT, st.integers(1, 10**6))
def test_at_equal_engagement_the_newer_post_ranks_higher(engagement: Engagement, s: int) -> None:
    assert score(engagement, T0 + timedelta(seconds=s)) > score(engagement, T0)


def test_a_post_one_decay_older_needs_ten_times_the_engagement() -> None:
    newer = score(Engagement(likes=9), T0 + DECAY)  # weighted 9: log10(10) = 1
    older = score(Engagement(likes=99), T0)  # weighted 99: log10(100) = 2
    assert math.isclose(newer, older)


def test_shares_weigh_more_than_comments_more_than_bookmarks_likes_and_views() -> None:
    assert WEIGHTS.share > WEIGHTS.comment > WEIGHTS.bookmark > WEIGHTS.like > WEIGHTS.view
    assert weighted(Engagement(shares=1)) == WEIGHTS.share


@given(ENGAGEMENT, ENGAGEMENT, st.integers(0, 10**6))
def test_the_order_of_two_posts_does_not_change_while_their_engagement_does_not(
    a: Engagement, b: Engagement, s: int
) -> None:
    """The score depends on publication time, not on now: stored, it stays right."""
    at_b = T0 + timedelta(seconds=s)
    first = score(a, T0) > score(b, at_b)
    assert first == (score(a, T0) > score(b, at_b))
    assert score(a, T0) == score(a, T0)
