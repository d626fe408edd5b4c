"""Poll rules: one vote, changeable or not, choices, results visibility, tally."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from activities.polls.domain import (
    Answer,
    InvalidPoll,
    Poll,
    PollKind,
    Refusal,
    Refused,
    ResultsVisible,
    average,
    check_vote,
    choices_of,
    results_visible,
    scale_options,
    tally,
)

T0 = datetime(2026, 12, 1, 12, tzinfo=UTC)
CLOSE = T0 + timedelta(days=1)


def poll(**kw: object) -> Poll:
    values: dict[str, object] = {
        "options": ("读书", "跑步", "早起"),
        "max_choices": 1,
        "closes_at": CLOSE,
    }
    values.update(kw)
    return Poll(**values)  # type: ignore[arg-type]


def reason(call: object) -> Refusal:
    with pytest.raises(Refused) as caught:
        call()  # type: ignore[operator]
    return caught.value.reason


@pytest.mark.parametrize(
    "kw",
    [{"options": ("a",)}, {"options": ("a", " A")}, {"max_choices": 0}, {"max_choices": 4}],
)
def test_invalid_polls_are_refused(kw: dict[str, object]) -> None:
    with pytest.raises(InvalidPoll):
        poll(**kw)


def test_one_vote_unless_changeable_and_never_after_the_close() -> None:
    check_vote(poll(), [0], voted_before=False, now=T0)
    assert reason(lambda: check_vote(poll(), [1], True, T0)) is Refusal.ALREADY
    check_vote(poll(changeable=True), [1], voted_before=True, now=T0)
    assert reason(lambda: check_vote(poll(), [0], False, CLOSE)) is Refusal.CLOSED
    assert reason(lambda: check_vote(poll(closed_at=T0), [0], False, T0)) is Refusal.CLOSED
    assert reason(lambda: check_vote(poll(), [0, 1], False, T0)) is Refusal.CHOICES
    assert reason(lambda: check_vote(poll(max_choices=2), [1, 1], False, T0)) is Refusal.CHOICES
    assert reason(lambda: check_vote(poll(), [3], False, T0)) is Refusal.CHOICES
    assert reason(lambda: check_vote(poll(), [], False, T0)) is Refusal.CHOICES


def test_results_are_shown_per_the_setting() -> None:
    after_vote, after_close = (
        poll(results=ResultsVisible.AFTER_VOTE),
        poll(results=ResultsVisible.AFTER_CLOSE),
    )
    assert results_visible(poll(), operator=False, voted=False, now=T0)
    assert not results_visible(after_vote, operator=False, voted=False, now=T0)
    assert results_visible(after_vote, operator=False, voted=True, now=T0)
    assert not results_visible(after_close, operator=False, voted=True, now=T0)
    assert results_visible(after_close, operator=False, voted=False, now=CLOSE)
    assert results_visible(after_close, operator=True, voted=False, now=T0)


@given(st.lists(st.sets(st.integers(0, 4), min_size=1).map(sorted), max_size=50))
def test_the_tally_counts_each_named_option_once_per_vote(votes: list[list[int]]) -> None:
    counts = tally(5, votes)
    assert sum(counts) == sum(len(v) for v in votes)
    assert all(counts[i] == sum(i in v for v in votes) for i in range(5))


def test_a_rating_counts_like_a_single_choice_and_averages() -> None:
    rating = poll(options=scale_options(5), kind=PollKind.RATING)
    assert choices_of(rating, Answer(rating=4)) == [3]
    for wrong in (Answer(rating=6), Answer(rating=0), Answer(choices=(1,)), Answer(text="好")):
        with pytest.raises(Refused):
            choices_of(rating, wrong)
    assert average([0, 0, 1, 0, 1]) == 4.0 and average([0] * 5) is None
    for bad in ({"options": ("1",)}, {"options": ("a", "b")}, {"max_choices": 2}):
        with pytest.raises(InvalidPoll):
            poll(kind=PollKind.RATING, **{"options": scale_options(5), **bad})


def test_a_free_text_question_takes_a_text_only() -> None:
    text = poll(options=(), kind=PollKind.TEXT)
    assert choices_of(text, Answer(text="多办线下活动")) == []
    check_vote(text, [], False, T0)
    for wrong in (Answer(text="  "), Answer(text="x" * 2001), Answer(choices=(0,)), Answer()):
        with pytest.raises(Refused):
            choices_of(text, wrong)
    with pytest.raises(InvalidPoll):
        poll(options=("a", "b"), kind=PollKind.TEXT)
    with pytest.raises(Refused):
        choices_of(poll(), Answer(rating=3))  # a choice poll takes choices


@given(st.lists(st.integers(0, 9), max_size=50))
def test_the_average_rating_is_the_mean_of_the_votes(ratings: list[int]) -> None:
    counts = tally(10, ([r] for r in ratings))
    mean = average(counts)
    assert (mean is None) == (not ratings)
    if ratings:
        assert mean == pytest.approx(sum(r + 1 for r in ratings) / len(ratings))
