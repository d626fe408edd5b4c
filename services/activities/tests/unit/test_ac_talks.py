"""Talk rules: settings, asking and voting windows, the queue's order (property test)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from activities.talks.domain import (
    InvalidTalk,
    Lead,
    QuestionStatus,
    Queued,
    Refusal,
    Refused,
    Talk,
    check_ask,
    check_attendance,
    check_vote,
    merged,
    queue,
    reminders,
)

T0 = datetime(2026, 12, 1, 12, tzinfo=UTC)
TALK = Talk(T0, T0 + timedelta(hours=1), ("guest-1",))


def test_invalid_talks() -> None:
    for bad in ((T0, T0, ()), (T0, T0 + timedelta(hours=1), ("g", "g"))):
        with pytest.raises(InvalidTalk):
            Talk(*bad)  # type: ignore[arg-type]


def test_questions_and_votes_before_and_during_the_talk_only() -> None:
    check_ask(TALK, T0 - timedelta(days=1))
    check_vote(TALK, QuestionStatus.OPEN, TALK.ends_at - timedelta(seconds=1))
    with pytest.raises(Refused) as ended:
        check_ask(TALK, TALK.ends_at)
    assert ended.value.reason is Refusal.ENDED
    for status in (QuestionStatus.ANSWERED, QuestionStatus.HIDDEN):
        with pytest.raises(Refused) as closed:
            check_vote(TALK, status, T0)
        assert closed.value.reason is Refusal.NOT_OPEN


QUESTIONS = st.lists(
    st.builds(
        Queued,
        id=st.uuids().map(str),
        votes=st.integers(0, 5),
        asked_at=st.integers(0, 5).map(lambda m: T0 + timedelta(minutes=m)),
        status=st.sampled_from(list(QuestionStatus)),
    ),
    max_size=30,
    unique_by=lambda q: q.id,
)


@given(QUESTIONS, st.randoms(), st.booleans())
def test_the_queue_is_votes_then_time_and_does_not_depend_on_input_order(
    questions: list[Queued], shuffler: object, show_hidden: bool
) -> None:
    ordered = queue(questions, show_hidden=show_hidden)
    shuffled = list(questions)
    shuffler.shuffle(shuffled)  # type: ignore[attr-defined]
    assert queue(shuffled, show_hidden=show_hidden) == ordered
    expected = {q.id for q in questions if show_hidden or q.status is not QuestionStatus.HIDDEN}
    assert {q.id for q in ordered} == expected
    for a, b in pairwise(ordered):
        if a.status is b.status:
            assert (-a.votes, a.asked_at, a.id) < (-b.votes, b.asked_at, b.id)
    sections = [q.status for q in ordered]
    assert sections == sorted(
        sections, key=[QuestionStatus.OPEN, QuestionStatus.ANSWERED, QuestionStatus.HIDDEN].index
    )


def test_reminders_24_hours_and_15_minutes_before_never_late() -> None:
    early = T0 - timedelta(days=3)
    assert reminders(T0, early) == {
        Lead.DAY: T0 - timedelta(days=1),
        Lead.QUARTER: T0 - timedelta(minutes=15),
    }
    assert reminders(T0, T0 - timedelta(hours=2)) == {
        Lead.DAY: None,
        Lead.QUARTER: T0 - timedelta(minutes=15),
    }
    assert reminders(T0, T0 - timedelta(minutes=15)) == {Lead.DAY: None, Lead.QUARTER: None}


def test_attendance_window_and_bounds() -> None:
    with pytest.raises(Refused) as refused:
        check_attendance(TALK, 0, T0 - timedelta(minutes=16))
    assert refused.value.reason is Refusal.NOT_STARTED
    check_attendance(TALK, 0, T0 - timedelta(minutes=15))  # joined early
    check_attendance(TALK, 75, TALK.ends_at + timedelta(days=1))  # a late report, at most
    with pytest.raises(Refused) as refused:
        check_attendance(TALK, 5, TALK.ends_at + timedelta(days=1, seconds=1))
    assert refused.value.reason is Refusal.REPORTS_CLOSED
    for bad in (-1, 76):
        with pytest.raises(InvalidTalk):
            check_attendance(TALK, bad, T0)


@given(st.lists(st.integers(0, 75), min_size=1, max_size=20), st.randoms())
def test_minutes_are_the_longest_report_whatever_the_order(reports: list[int], rnd: Any) -> None:
    rnd.shuffle(reports)
    kept: int | None = None
    for minutes in reports:
        kept = merged(kept, minutes)
    assert kept == max(reports)
