"""Live talks and AMAs with guests (嘉宾): the question queue.

Pure. Members submit questions before and during the talk (until it ends) and upvote
others' once each; the host marks a question answered or hidden (or open again). The
queue shows open questions first by votes, then by when they were asked (then id), so
its order is total and stable under concurrent votes; answered ones follow, hidden ones
only operators see.

Reminders: ``talk.reminder_due`` 24 h and 15 min before the start, for whoever sends
messages. Each is a timer keyed by the talk and its lead, so it fires once; moving the
talk moves them (re-armed for the new start, even one that fired for the old start); a
reminder whose time has already passed when the talk is set up or moved is not sent late.

Attendance: the front end reports, with the member's token, that the member joined and
how many minutes they stayed. The minutes are max-merged (reports repeat as the member
stays; a shorter one never lowers them), bounded by the talk's length plus the quarter
of an hour members may join early; reports are taken from that early join until a day
after the end. ``talk.attended`` goes out once per member and talk, at the first report.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
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
    NOT_STARTED = "talk-not-started"
    REPORTS_CLOSED = "attendance-closed"


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


class Lead(StrEnum):
    DAY = "24h"
    QUARTER = "15m"


LEADS = {Lead.DAY: timedelta(hours=24), Lead.QUARTER: timedelta(minutes=15)}
EARLY_JOIN = timedelta(minutes=15)
LATE_REPORT = timedelta(days=1)


def reminders(starts_at: datetime, now: datetime) -> dict[Lead, datetime | None]:
    """Each reminder's time, or None: already passed (not sent late; cancelled if armed)."""
    # Differences, not sums: no date arithmetic near datetime's bounds can overflow.
    ahead = starts_at - now
    return {lead: starts_at - before if ahead > before else None for lead, before in LEADS.items()}


def check_attendance(talk: Talk, minutes: int, now: datetime) -> None:
    if talk.starts_at - now > EARLY_JOIN:
        raise Refused(Refusal.NOT_STARTED, "the talk has not started")
    if now - talk.ends_at > LATE_REPORT:
        raise Refused(Refusal.REPORTS_CLOSED, "attendance is reported until a day after the end")
    longest = (talk.ends_at - talk.starts_at + EARLY_JOIN) // timedelta(minutes=1)
    if not 0 <= minutes <= longest:
        raise InvalidTalk(f"minutes are 0..{longest} for this talk")


def merged(before: int | None, reported: int) -> int:
    return reported if before is None else max(before, reported)
