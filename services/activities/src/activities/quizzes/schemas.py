"""Request and response bodies of the question bank, quizzes and attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, Field

from activities.quizzes import domain
from servicekit.text import Body, Line, Text

Id = Annotated[Line, Field(min_length=1, max_length=200)]
Tag = Annotated[Line, Field(min_length=1, max_length=32)]
Option = Annotated[Line, Field(min_length=1, max_length=500)]
Accepted = Annotated[Line, Field(min_length=1, max_length=200)]
# What a client may give as an answer: an option index, indices, true/false or a text.
Answer = int | bool | list[Annotated[int, Field(ge=0, le=domain.MAX_OPTIONS)]] | Accepted


class QuestionIn(Body):
    kind: domain.Kind
    prompt: Annotated[Text, Field(min_length=1, max_length=2000)]
    options: Annotated[list[Option], Field(max_length=domain.MAX_OPTIONS)] = Field(
        default_factory=list, description="single and multiple choice only"
    )
    answer: Answer | list[Accepted] = Field(
        description=(
            "single: the right option's index; multiple: the right indices; true_false: a "
            "boolean; fill_in: the accepted texts (compared without case, width or extra spaces)"
        )
    )
    explanation: Annotated[Text, Field(max_length=2000)] = ""
    tags: Annotated[list[Tag], Field(max_length=10)] = Field(default_factory=list)

    def value(self, question_id: str) -> domain.Question:
        """Raises ``domain.InvalidQuiz``."""
        return domain.Question(
            question_id,
            self.kind,
            self.prompt,
            tuple(self.options),
            self.answer,
            self.explanation,
        )


class QuestionOut(BaseModel):
    """A question as operators see it, answer included."""

    id: str
    kind: domain.Kind
    prompt: str
    options: list[str]
    answer: Any
    explanation: str
    tags: list[str]
    created_at: datetime

    @classmethod
    def of(cls, row: Any) -> QuestionOut:
        return cls.model_validate(dict(row._mapping))


class QuizIn(Body):
    community_id: Id
    title: Annotated[Line, Field(min_length=1, max_length=200)]
    question_ids: Annotated[list[Id], Field(min_length=1, max_length=200)] = Field(
        description="The questions, or the pool draw_count draws from"
    )
    draw_count: Annotated[int | None, Field(ge=1, le=200)] = Field(
        default=None, description="Draw this many at random per attempt; none: all, in order"
    )
    time_limit_s: Annotated[int | None, Field(ge=10, le=7 * 24 * 3600)] = None
    attempts_allowed: Annotated[int, Field(ge=1, le=100)] = 1
    pass_percent: Annotated[int, Field(ge=0, le=100)] = 60
    opens_at: AwareDatetime
    closes_at: AwareDatetime


class QuizOut(BaseModel):
    id: str
    community_id: str
    title: str
    question_count: int
    draw_count: int | None
    time_limit_s: int | None
    attempts_allowed: int
    pass_percent: int
    opens_at: datetime
    closes_at: datetime

    @classmethod
    def of(cls, row: Any) -> QuizOut:
        values = dict(row._mapping)
        values["question_count"] = row.draw_count or len(row.question_ids)
        return cls.model_validate(values)


class QuestionShown(BaseModel):
    """A question as a member sees it during an attempt: no answer, no explanation."""

    id: str
    kind: domain.Kind
    prompt: str
    options: list[str]


class QuestionResult(QuestionShown):
    """After submission: the answer, whether the member had it right, the explanation."""

    answer: Any
    given: Any
    correct: bool
    explanation: str


class AttemptOut(BaseModel):
    id: str
    quiz_id: str
    number: int
    started_at: datetime
    deadline_at: datetime
    submitted_at: datetime | None
    score: int | None = Field(description="Percent, after submission")
    correct_answers: int | None
    passed: bool | None
    questions: list[QuestionShown] = Field(description="Without answers until submitted")
    results: list[QuestionResult] | None = None

    @classmethod
    def of(cls, row: Any, questions: list[domain.Question]) -> AttemptOut:
        shown = [
            QuestionShown(id=q.id, kind=q.kind, prompt=q.prompt, options=list(q.options))
            for q in questions
        ]
        results = None
        if row.submitted_at is not None:
            given = row.answers or {}
            results = [
                QuestionResult(
                    id=q.id,
                    kind=q.kind,
                    prompt=q.prompt,
                    options=list(q.options),
                    answer=q.answer,
                    given=given.get(q.id),
                    correct=q.is_correct(given.get(q.id)),
                    explanation=q.explanation,
                )
                for q in questions
            ]
        return cls(
            id=row.id,
            quiz_id=row.quiz_id,
            number=row.number,
            started_at=row.started_at,
            deadline_at=row.deadline_at,
            submitted_at=row.submitted_at,
            score=row.score,
            correct_answers=row.correct,
            passed=row.passed,
            questions=shown,
            results=results,
        )


class SubmissionIn(Body):
    answers: Annotated[dict[Id, Answer], Field(max_length=200)] = Field(
        description="Question id → answer"
    )
