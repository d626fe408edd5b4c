"""Live talks and AMAs with guests (嘉宾): the question queue.

Pure. Members submit questions before and during the talk (until it ends) and upvote
others' once each; the host marks a question answered or hidden (or open again). The
queue shows open questions first by votes, then by when they were asked (then id), so
its order is total and stable under concurrent votes; answered ones follow, hidden ones
only operators see.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from activities.refusal import Refused

MAX_GUESTS = 20


class QuestionStatus(StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    HIDDEN = "hidden"


class InvalidTalk(ValueError):
    pass


class Refusal(StrEnum):
    ENDED = "talk-ended"
    NOT_OPEN = "question-not-open"
    ALREADY = "already-voted"


@dataclass(frozen=True)
class Talk:
    starts_at: datetime
    ends_at: datetime
    guests: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.starts_at >= self.ends_at:
            raise InvalidTalk("starts_at must be before ends_at")
        if len(self.guests) > MAX_GUESTS or len(set(self.guests)) != len(self.guests):
            raise InvalidTalk(f"up to {MAX_GUESTS} distinct guests")


def check_ask(talk: Talk, now: datetime) -> None:
    if now >= talk.ends_at:
        raise Refused(Refusal.ENDED, "the talk has ended")


def check_vote(talk: Talk, status: QuestionStatus, now: datetime) -> None:
    check_ask(talk, now)
    if status is not QuestionStatus.OPEN:
        raise Refused(Refusal.NOT_OPEN, f"the question is {status.value}")


@dataclass(frozen=True)
class Queued:
    id: str
    votes: int
    asked_at: datetime
    status: QuestionStatus


_SECTION = {QuestionStatus.OPEN: 0, QuestionStatus.ANSWERED: 1, QuestionStatus.HIDDEN: 2}


def queue(questions: Iterable[Queued], *, show_hidden: bool) -> list[Queued]:
    """Open questions by votes then time (then id), then the answered ones the same way;
    hidden ones last, for operators only."""
    shown = (q for q in questions if show_hidden or q.status is not QuestionStatus.HIDDEN)
    return sorted(shown, key=lambda q: (_SECTION[q.status], -q.votes, q.asked_at, q.id))
