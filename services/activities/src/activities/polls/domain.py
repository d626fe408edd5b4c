"""Polls and surveys: one vote per member, changeable or not, results shown per the poll's
setting.

Pure. A poll closes at ``closes_at`` (or earlier, when an operator closes it); a vote
after that is refused. Named polls show who chose what; anonymous ones only counts.
Three kinds: ``choice`` (single or multiple choice among its options), ``rating`` (one
number 1..scale; its options are "1".."scale", so it counts like a single choice and adds
an average) and ``text`` (a free-text answer; no options).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from activities.refusal import Refused

MAX_OPTIONS = 20
MAX_SCALE = 10
MAX_TEXT = 2000


class PollKind(StrEnum):
    CHOICE = "choice"
    RATING = "rating"
    TEXT = "text"


class ResultsVisible(StrEnum):
    ALWAYS = "always"
    AFTER_VOTE = "after_vote"
    AFTER_CLOSE = "after_close"


class InvalidPoll(ValueError):
    pass


class Refusal(StrEnum):
    CLOSED = "poll-closed"
    ALREADY = "already-voted"
    CHOICES = "invalid-choices"


@dataclass(frozen=True)
class Poll:
    options: tuple[str, ...]
    max_choices: int  # 1: single choice
    closes_at: datetime
    changeable: bool = False
    anonymous: bool = False
    results: ResultsVisible = ResultsVisible.ALWAYS
    closed_at: datetime | None = None  # closed early by an operator
    kind: PollKind = PollKind.CHOICE

    def __post_init__(self) -> None:
        if self.kind is PollKind.RATING:
            if self.options != scale_options(len(self.options)) or not (
                2 <= len(self.options) <= MAX_SCALE
            ):
                raise InvalidPoll(f"a rating's scale is 2..{MAX_SCALE}")
            if self.max_choices != 1:
                raise InvalidPoll("a rating takes one number")
            return
        if self.kind is PollKind.TEXT:
            if self.options or self.max_choices != 1:
                raise InvalidPoll("a free-text question has no options")
            return
        if not 2 <= len(self.options) <= MAX_OPTIONS:
            raise InvalidPoll(f"a poll has 2..{MAX_OPTIONS} options")
        if len({o.strip().casefold() for o in self.options}) != len(self.options):
            raise InvalidPoll("options must differ")
        if not 1 <= self.max_choices <= len(self.options):
            raise InvalidPoll("max_choices must be 1..the number of options")

    def is_closed(self, now: datetime) -> bool:
        return now >= self.closes_at or self.closed_at is not None


def scale_options(scale: int) -> tuple[str, ...]:
    """A rating's options: "1".."scale"."""
    return tuple(str(n) for n in range(1, scale + 1))


@dataclass(frozen=True)
class Answer:
    """What a member sends: choices (a choice poll), a rating, or a text."""

    choices: tuple[int, ...] = ()
    rating: int | None = None
    text: str | None = None


def choices_of(poll: Poll, answer: Answer) -> list[int]:
    """The answer as the choices stored and counted (a rating r is option r - 1; a text
    answer has none); refused when it does not answer the poll's kind."""
    if poll.kind is PollKind.RATING:
        if answer.choices or answer.text is not None or answer.rating is None:
            raise Refused(Refusal.CHOICES, "a rating poll takes a rating")
        if not 1 <= answer.rating <= len(poll.options):
            raise Refused(Refusal.CHOICES, f"rate 1..{len(poll.options)}")
        return [answer.rating - 1]
    if poll.kind is PollKind.TEXT:
        if answer.choices or answer.rating is not None:
            raise Refused(Refusal.CHOICES, "a free-text question takes a text")
        if answer.text is None or not answer.text.strip() or len(answer.text) > MAX_TEXT:
            raise Refused(Refusal.CHOICES, f"answer with 1..{MAX_TEXT} characters")
        return []
    if answer.rating is not None or answer.text is not None:
        raise Refused(Refusal.CHOICES, "a choice poll takes choices")
    return list(answer.choices)


def check_vote(poll: Poll, choices: Sequence[int], voted_before: bool, now: datetime) -> None:
    if poll.is_closed(now):
        raise Refused(Refusal.CLOSED, "the poll is closed")
    if voted_before and not poll.changeable:
        raise Refused(Refusal.ALREADY, "you voted already; this poll's votes cannot change")
    if poll.kind is PollKind.TEXT:
        return
    if not 1 <= len(choices) <= poll.max_choices or len(set(choices)) != len(choices):
        raise Refused(Refusal.CHOICES, f"choose 1..{poll.max_choices} distinct options")
    if not all(0 <= c < len(poll.options) for c in choices):
        raise Refused(Refusal.CHOICES, f"options are numbered 0..{len(poll.options) - 1}")


def results_visible(poll: Poll, *, operator: bool, voted: bool, now: datetime) -> bool:
    if operator or poll.results is ResultsVisible.ALWAYS:
        return True
    if poll.results is ResultsVisible.AFTER_VOTE:
        return voted or poll.is_closed(now)
    return poll.is_closed(now)


def tally(options: int, votes: Iterable[Sequence[int]]) -> list[int]:
    """Votes per option (a multiple-choice vote counts once for each option it names)."""
    counts = [0] * options
    for choices in votes:
        for choice in choices:
            counts[choice] += 1
    return counts


def average(counts: Sequence[int]) -> float | None:
    """A rating's mean (option i is the rating i + 1); None without votes."""
    votes = sum(counts)
    if votes == 0:
        return None
    return sum((i + 1) * c for i, c in enumerate(counts)) / votes
