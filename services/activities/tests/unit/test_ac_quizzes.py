"""Quiz rules: questions of each kind, scoring, draws, windows and deadlines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from activities.quizzes.domain import (
    InvalidQuiz,
    Kind,
    Question,
    QuizRules,
    Refusal,
    Refused,
    check_submission,
    draw,
    score,
    start,
)

T0 = datetime(2026, 12, 1, 12, tzinfo=UTC)
SINGLE = Question("q1", Kind.SINGLE, "社群的核心是?", ("人", "钱", "群"), 0, "人是核心")
MULTIPLE = Question("q2", Kind.MULTIPLE, "哪些是打卡?", ("早起", "读书", "吵架"), [0, 1])
TRUE_FALSE = Question("q3", Kind.TRUE_FALSE, "补卡可以无限用", (), False)
FILL_IN = Question("q4", Kind.FILL_IN, "积分商城的英文", (), ["Points Mall", "points store"])
ALL = [SINGLE, MULTIPLE, TRUE_FALSE, FILL_IN]


def rules(**kw: Any) -> QuizRules:
    values: dict[str, Any] = {
        "attempts_allowed": 2,
        "pass_percent": 60,
        "opens_at": T0,
        "closes_at": T0 + timedelta(days=1),
    }
    values.update(kw)
    return QuizRules(**values)


@pytest.mark.parametrize(
    ("question", "right", "wrongs"),
    [
        (SINGLE, 0, [1, "0", True, [0], None]),
        (MULTIPLE, [1, 0], [[0], [0, 1, 2], [0, 0, 1], 0, [True, 1], None]),
        (TRUE_FALSE, False, [0, "false", None, True]),
        (FILL_IN, "  ｐｏｉｎｔｓ   MALL ", ["points", 1, None, ""]),
    ],
)
def test_each_kind_is_marked_right_and_wrong(
    question: Question, right: Any, wrongs: list[Any]
) -> None:
    assert question.is_correct(right)
    for wrong in wrongs:
        assert not question.is_correct(wrong), wrong


@pytest.mark.parametrize(
    "make",
    [
        lambda: Question("x", Kind.SINGLE, "p", ("a",), 0),
        lambda: Question("x", Kind.SINGLE, "p", ("a", "A"), 0),
        lambda: Question("x", Kind.SINGLE, "p", ("a", "b"), 2),
        lambda: Question("x", Kind.SINGLE, "p", ("a", "b"), True),
        lambda: Question("x", Kind.MULTIPLE, "p", ("a", "b"), []),
        lambda: Question("x", Kind.MULTIPLE, "p", ("a", "b"), [1, 1]),
        lambda: Question("x", Kind.TRUE_FALSE, "p", (), 1),
        lambda: Question("x", Kind.TRUE_FALSE, "p", ("a", "b"), True),
        lambda: Question("x", Kind.FILL_IN, "p", (), []),
        lambda: Question("x", Kind.FILL_IN, "p", (), ["  "]),
        lambda: rules(closes_at=T0),
        lambda: rules(attempts_allowed=0),
        lambda: rules(time_limit=timedelta(0)),
    ],
)
def test_settings_that_contradict_each_other_are_refused(make: Any) -> None:
    with pytest.raises(InvalidQuiz):
        make()


def test_the_score_counts_right_answers_and_ignores_strangers() -> None:
    answers = {"q1": 0, "q2": [0], "q3": False, "q4": "points mall", "q9": 1}
    result = score(ALL, answers, 75)
    assert (result.correct, result.total, result.percent, result.passed) == (3, 4, 75, True)
    assert result.right == {"q1": True, "q2": False, "q3": True, "q4": True}
    assert not score(ALL, {}, 1).passed and score(ALL, {}, 0).passed


@given(st.lists(st.booleans(), min_size=1, max_size=30), st.integers(0, 100))
def test_pass_is_exactly_the_mark(rights: list[bool], mark: int) -> None:
    questions = [Question(f"q{i}", Kind.TRUE_FALSE, "p", (), True) for i in range(len(rights))]
    result = score(questions, {q.id: r for q, r in zip(questions, rights, strict=True)}, mark)
    assert result.correct == sum(rights)
    assert result.passed is (result.correct / len(rights) * 100 >= mark - 1e-9)


@given(st.sets(st.text(min_size=1, max_size=5), min_size=1, max_size=20), st.data())
def test_a_draw_is_a_reproducible_subset(bank: set[str], data: st.DataObject) -> None:
    count = data.draw(st.integers(1, len(bank)))
    seed = data.draw(st.text(max_size=10))
    drawn = draw(list(bank), count, seed)
    assert len(set(drawn)) == count and set(drawn) <= bank
    assert draw(sorted(bank, reverse=True), count, seed) == drawn  # the bank's order aside
    with pytest.raises(InvalidQuiz):
        draw(list(bank), len(bank) + 1, seed)


def test_attempts_start_inside_the_window_up_to_the_limit() -> None:
    r = rules(time_limit=timedelta(minutes=10))
    with pytest.raises(Refused) as early:
        start(r, 0, T0 - timedelta(seconds=1))
    assert early.value.reason is Refusal.NOT_OPEN
    with pytest.raises(Refused) as closed:
        start(r, 0, T0 + timedelta(days=1))
    assert closed.value.reason is Refusal.CLOSED
    with pytest.raises(Refused) as used:
        start(r, 2, T0)
    assert used.value.reason is Refusal.NO_ATTEMPTS
    assert start(r, 1, T0) == T0 + timedelta(minutes=10)
    # A time limit never runs past the close.
    assert start(r, 0, T0 + timedelta(hours=23, minutes=55)) == T0 + timedelta(days=1)
    assert start(rules(), 0, T0) == T0 + timedelta(days=1)


def test_a_submission_is_once_and_on_time() -> None:
    deadline = T0 + timedelta(minutes=10)
    check_submission(deadline, False, deadline)  # the deadline itself is on time
    with pytest.raises(Refused) as late:
        check_submission(deadline, False, deadline + timedelta(microseconds=1))
    assert late.value.reason is Refusal.LATE
    with pytest.raises(Refused) as again:
        check_submission(deadline, True, T0)
    assert again.value.reason is Refusal.SUBMITTED
