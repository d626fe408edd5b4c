"""Polls: one vote per member, changeable or not, results shown per the poll's setting.

Pure. A poll closes at ``closes_at`` (or earlier, when an operator closes it); a vote
after that is refused. Named polls show who chose what; anonymous ones only counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

MAX_OPTIONS = 20


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


class Refused(Exception):
    def __init__(self, reason: Refusal, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Poll:
    options: tuple[str, ...]
    max_choices: int  # 1: single choice
    closes_at: datetime
    changeable: bool = False
    anonymous: bool = False
    results: ResultsVisible = ResultsVisible.ALWAYS
    closed_at: datetime | None = None  # closed early by an operator

    def __post_init__(self) -> None:
        if not 2 <= len(self.options) <= MAX_OPTIONS:
            raise InvalidPoll(f"a poll has 2..{MAX_OPTIONS} options")
        if len({o.strip().casefold() for o in self.options}) != len(self.options):
            raise InvalidPoll("options must differ")
        if not 1 <= self.max_choices <= len(self.options):
            raise InvalidPoll("max_choices must be 1..the number of options")

    def is_closed(self, now: datetime) -> bool:
        return now >= self.closes_at or self.closed_at is not None


def check_vote(poll: Poll, choices: Sequence[int], voted_before: bool, now: datetime) -> None:
    if poll.is_closed(now):
        raise Refused(Refusal.CLOSED, "the poll is closed")
    if voted_before and not poll.changeable:
        raise Refused(Refusal.ALREADY, "you voted already; this poll's votes cannot change")
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
