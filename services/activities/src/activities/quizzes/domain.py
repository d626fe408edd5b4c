"""Quizzes: a tenant's question bank, quizzes drawn from it, attempts scored on the server.

Pure. A question's answer never leaves the server before the attempt is submitted (the
API shows ``Question.public()`` until then); the score is computed here from the stored
answers; an attempt is submitted once, before its deadline (the quiz's time limit from
its start, and never after the quiz closes).
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from activities.refusal import Refused

MAX_OPTIONS = 10


class Kind(StrEnum):
    SINGLE = "single"
    MULTIPLE = "multiple"
    TRUE_FALSE = "true_false"
    FILL_IN = "fill_in"


class InvalidQuiz(ValueError):
    """A question or a quiz whose settings contradict each other."""


class Refusal(StrEnum):
    NOT_OPEN = "quiz-not-open"
    CLOSED = "quiz-closed"
    NO_ATTEMPTS = "no-attempts-left"
    LATE = "submission-late"
    SUBMITTED = "attempt-already-submitted"


def normalized(text: str) -> str:
    """A fill-in answer as compared: NFKC (full-width → half-width), case and spaces
    folded."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


@dataclass(frozen=True)
class Question:
    id: str
    kind: Kind
    prompt: str
    options: tuple[str, ...]  # single and multiple choice
    answer: Any  # single: option index; multiple: sorted indices; true_false: bool;
    # fill_in: accepted texts
    explanation: str = ""

    def __post_init__(self) -> None:
        if self.kind in (Kind.SINGLE, Kind.MULTIPLE):
            self._check_choice()
        elif self.options:
            raise InvalidQuiz("only choice questions have options")
        if self.kind is Kind.TRUE_FALSE and not isinstance(self.answer, bool):
            raise InvalidQuiz("a true/false answer is true or false")
        if self.kind is Kind.FILL_IN and not (
            isinstance(self.answer, list | tuple)
            and self.answer
            and all(isinstance(a, str) and normalized(a) for a in self.answer)
        ):
            raise InvalidQuiz("a fill-in answer lists the accepted texts")

    def _check_choice(self) -> None:
        if not 2 <= len(self.options) <= MAX_OPTIONS:
            raise InvalidQuiz(f"a choice question has 2..{MAX_OPTIONS} options")
        if len({normalized(o) for o in self.options}) != len(self.options):
            raise InvalidQuiz("options must differ")
        picks = [self.answer] if self.kind is Kind.SINGLE else self.answer
        if not isinstance(picks, list | tuple) or not picks:
            raise InvalidQuiz("a choice answer names at least one option")
        if any(isinstance(p, bool) or not isinstance(p, int) for p in picks):
            raise InvalidQuiz("a choice answer is option indices")
        if len(set(picks)) != len(picks) or not all(0 <= p < len(self.options) for p in picks):
            raise InvalidQuiz("answer indices must be distinct options")

    def is_correct(self, given: Any) -> bool:
        """Whether ``given`` (as a client sends it) is right; malformed counts as wrong."""
        if self.kind is Kind.SINGLE:
            return _is_int(given) and given == self.answer
        if self.kind is Kind.MULTIPLE:
            return (
                isinstance(given, list)
                and all(_is_int(g) for g in given)
                and sorted(set(given)) == sorted(self.answer)
                and len(given) == len(set(given))
            )
        if self.kind is Kind.TRUE_FALSE:
            return isinstance(given, bool) and given is self.answer
        return isinstance(given, str) and normalized(given) in {normalized(a) for a in self.answer}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class QuizRules:
    attempts_allowed: int
    pass_percent: int
    opens_at: datetime
    closes_at: datetime
    time_limit: timedelta | None = None

    def __post_init__(self) -> None:
        if not self.opens_at < self.closes_at:
            raise InvalidQuiz("the quiz must open before it closes")
        if not 1 <= self.attempts_allowed <= 100:
            raise InvalidQuiz("attempts_allowed must be 1..100")
        if not 0 <= self.pass_percent <= 100:
            raise InvalidQuiz("pass_percent must be 0..100")
        if self.time_limit is not None and self.time_limit <= timedelta(0):
            raise InvalidQuiz("a time limit is positive")


def draw(bank: Sequence[str], count: int, seed: str) -> list[str]:
    """``count`` question ids drawn at random from ``bank``, reproducibly from ``seed``."""
    if not 1 <= count <= len(bank):
        raise InvalidQuiz(f"cannot draw {count} questions from {len(bank)}")
    return random.Random(seed).sample(sorted(bank), count)


def start(rules: QuizRules, attempts_used: int, now: datetime) -> datetime:
    """A new attempt's deadline, or why none may start."""
    if now < rules.opens_at:
        raise Refused(Refusal.NOT_OPEN, f"the quiz opens at {rules.opens_at.isoformat()}")
    if now >= rules.closes_at:
        raise Refused(Refusal.CLOSED, "the quiz is closed")
    if attempts_used >= rules.attempts_allowed:
        raise Refused(Refusal.NO_ATTEMPTS, f"all {rules.attempts_allowed} attempts are used")
    if rules.time_limit is None:
        return rules.closes_at
    return min(now + rules.time_limit, rules.closes_at)


def check_submission(deadline: datetime, submitted: bool, now: datetime) -> None:
    if submitted:
        raise Refused(Refusal.SUBMITTED, "this attempt was submitted already")
    if now > deadline:
        raise Refused(Refusal.LATE, f"the attempt's deadline was {deadline.isoformat()}")


@dataclass(frozen=True)
class Score:
    correct: int
    total: int
    percent: int
    passed: bool
    right: Mapping[str, bool]  # per question id


def score(questions: Sequence[Question], answers: Mapping[str, Any], pass_percent: int) -> Score:
    """Answers to questions not in the attempt are ignored; a missing answer is wrong."""
    right = {q.id: q.is_correct(answers.get(q.id)) for q in questions}
    correct = sum(right.values())
    total = len(questions)
    percent = (100 * correct) // total if total else 0
    return Score(correct, total, percent, 100 * correct >= pass_percent * total, right)
