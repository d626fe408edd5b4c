"""Check-in challenges (打卡): the rules of a challenge and a member's progress in it.

Pure: every day here is a calendar day of the challenge's community, in its IANA zone
(``day_of``); instants are only turned into days at that one place. A member checks in at
most once per day; a make-up card (补卡) fills a missed past day, only for the last K days
and at most N times per challenge. Streaks run over consecutive checked days, a gap of up
to ``grace_days`` missed days in a row not breaking them (the missed days do not count).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from activities.refusal import Refused

MAX_DAYS = 366
DEFAULT_MILESTONES = (3, 7, 21, 30)


class Part(StrEnum):
    """What a check-in may hold."""

    TEXT = "text"
    IMAGES = "images"
    LINK = "link"
    NUMBER = "number"  # pages read, kilometres run...


class Refusal(StrEnum):
    """Why a check-in or a make-up is refused (the problem's ``type``)."""

    NOT_STARTED = "challenge-not-started"
    ENDED = "challenge-ended"
    OUTSIDE_WINDOW = "outside-check-in-window"
    ALREADY = "already-checked-in"
    NOT_A_PAST_DAY = "make-up-not-a-past-day"
    TOO_OLD = "make-up-too-old"
    NO_CARDS = "no-make-up-cards-left"
    CONTENT = "check-in-content-missing"


class InvalidRules(ValueError):
    """A challenge's settings that contradict each other."""


@dataclass(frozen=True)
class Window:
    """The daily window on the community's wall clock: ``[start, end)``, e.g. 05:00–09:00."""

    start: time
    end: time

    def holds(self, local: time) -> bool:
        return self.start <= local < self.end


@dataclass(frozen=True)
class Rules:
    start_date: date
    end_date: date
    required_days: int  # completion: N of the M days
    window: Window | None = None
    requires: frozenset[Part] = frozenset()
    min_text_length: int = 0
    makeup_cards: int = 0  # N per challenge
    makeup_days: int = 0  # only for the last K days
    grace_days: int = 0
    milestones: tuple[int, ...] = DEFAULT_MILESTONES

    def __post_init__(self) -> None:
        if self.end_date < self.start_date:
            raise InvalidRules("end_date is before start_date")
        if self.total_days > MAX_DAYS:
            raise InvalidRules(f"a challenge lasts at most {MAX_DAYS} days")
        if not 1 <= self.required_days <= self.total_days:
            raise InvalidRules(f"required_days must be 1..{self.total_days} (the challenge's days)")
        if self.window is not None and not self.window.start < self.window.end:
            raise InvalidRules("the window must start before it ends, within one day")
        if min(self.min_text_length, self.makeup_cards, self.makeup_days, self.grace_days) < 0:
            raise InvalidRules("counts cannot be negative")
        if self.min_text_length and Part.TEXT not in self.requires:
            raise InvalidRules("min_text_length needs text among the required parts")
        if any(m < 1 for m in self.milestones) or len(set(self.milestones)) != len(self.milestones):
            raise InvalidRules("milestones are distinct day counts ≥ 1")

    @property
    def total_days(self) -> int:
        return (self.end_date - self.start_date).days + 1


@dataclass(frozen=True)
class Entry:
    """What a member hands in."""

    text: str | None = None
    images: tuple[str, ...] = ()
    link: str | None = None
    number: float | None = None

    def has(self, part: Part) -> bool:
        if part is Part.TEXT:
            return bool(self.text and self.text.strip())
        if part is Part.IMAGES:
            return bool(self.images)
        if part is Part.LINK:
            return bool(self.link)
        return self.number is not None


def check_content(rules: Rules, entry: Entry) -> None:
    missing = sorted(part.value for part in rules.requires if not entry.has(part))
    if missing:
        raise Refused(Refusal.CONTENT, f"a check-in here needs: {', '.join(missing)}")
    text = (entry.text or "").strip()
    if len(text) < rules.min_text_length:
        raise Refused(
            Refusal.CONTENT, f"the text needs at least {rules.min_text_length} characters"
        )


def day_of(at: datetime, tz: ZoneInfo) -> date:
    """The community's calendar day of an aware instant (23:59 and 00:01 are two days)."""
    return at.astimezone(tz).date()


def on_time_day(rules: Rules, at: datetime, tz: ZoneInfo) -> date:
    """The day a check-in made at ``at`` counts for, or why it cannot count."""
    local = at.astimezone(tz)
    day = local.date()
    if day < rules.start_date:
        raise Refused(Refusal.NOT_STARTED, f"the challenge starts on {rules.start_date}")
    if day > rules.end_date:
        raise Refused(Refusal.ENDED, f"the challenge ended on {rules.end_date}")
    window = rules.window
    if window is not None and not window.holds(local.time().replace(tzinfo=None)):
        raise Refused(
            Refusal.OUTSIDE_WINDOW,
            f"check-ins are open {window.start:%H:%M}–{window.end:%H:%M} ({tz.key})",
        )
    return day


# --- streaks ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    first: date
    last: date
    days: int  # checked days in the run


def runs(days: Iterable[date], grace: int) -> list[Run]:
    """Checked days cut into streaks: a gap of more than ``grace`` missed days ends one."""
    found: list[Run] = []
    for day in sorted(set(days)):
        if found and (day - found[-1].last).days - 1 <= grace:
            found[-1] = Run(found[-1].first, day, found[-1].days + 1)
        else:
            found.append(Run(day, day, 1))
    return found


def streak_through(days: frozenset[date], grace: int, day: date) -> int:
    """The length of the streak holding ``day`` (0 if it was not checked)."""
    return next((run.days for run in runs(days, grace) if run.first <= day <= run.last), 0)


def current_streak(days: frozenset[date], grace: int, today: date) -> int:
    """The streak still alive today: its last day is today, or the days since are within
    grace (today not yet missed)."""
    found = runs(days, grace)
    if not found:
        return 0
    last = found[-1]
    return last.days if (today - last.last).days - 1 <= grace else 0


def best_streak(days: frozenset[date], grace: int) -> int:
    return max((run.days for run in runs(days, grace)), default=0)


# --- a member's progress ---------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    days: frozenset[date] = frozenset()
    makeups_used: int = 0
    milestones: frozenset[int] = frozenset()  # reached, announced once each
    completed: bool = False


@dataclass(frozen=True)
class Recorded:
    progress: Progress
    day: date
    make_up: bool
    streak: int  # of the streak holding this day
    new_milestones: tuple[int, ...] = field(default=())
    completed_now: bool = False

    @property
    def total(self) -> int:
        return len(self.progress.days)


def check_in(rules: Rules, progress: Progress, day: date) -> Recorded:
    """An on-time check-in for ``day`` (from ``on_time_day``)."""
    if day in progress.days:
        raise Refused(Refusal.ALREADY, f"already checked in for {day}")
    return _record(rules, progress, day, make_up=False)


def make_up(rules: Rules, progress: Progress, day: date, today: date) -> Recorded:
    """A make-up card (补卡) spent on a missed past day of the challenge."""
    if not day < today:
        raise Refused(Refusal.NOT_A_PAST_DAY, "a make-up card fills a past day only")
    if not rules.start_date <= day <= rules.end_date:
        raise Refused(Refusal.NOT_A_PAST_DAY, f"{day} is not a day of the challenge")
    if (today - day).days > rules.makeup_days:
        raise Refused(Refusal.TOO_OLD, f"make-up cards reach back {rules.makeup_days} days only")
    if day in progress.days:
        raise Refused(Refusal.ALREADY, f"already checked in for {day}")
    if progress.makeups_used >= rules.makeup_cards:
        raise Refused(Refusal.NO_CARDS, f"all {rules.makeup_cards} make-up cards are used")
    spent = replace(progress, makeups_used=progress.makeups_used + 1)
    return _record(rules, spent, day, make_up=True)


def _record(rules: Rules, progress: Progress, day: date, *, make_up: bool) -> Recorded:
    days = progress.days | {day}
    best = best_streak(days, rules.grace_days)
    reached = {m for m in rules.milestones if best >= m}
    new = tuple(sorted(reached - progress.milestones))
    completed_now = not progress.completed and len(days) >= rules.required_days
    after = replace(
        progress,
        days=days,
        milestones=progress.milestones | reached,
        completed=progress.completed or completed_now,
    )
    return Recorded(
        after, day, make_up, streak_through(days, rules.grace_days, day), new, completed_now
    )


# --- a member's calendar ---------------------------------------------------------------


class DayState(StrEnum):
    CHECKED = "checked"
    MADE_UP = "made_up"
    MISSED = "missed"
    OPEN = "open"  # today, not yet checked
    AHEAD = "ahead"


def calendar(rules: Rules, made_up: dict[date, bool], today: date) -> list[tuple[date, DayState]]:
    """Every day of the challenge and what it is for the member: ``made_up`` maps each
    checked day to whether a make-up card filled it."""
    found = []
    for offset in range(rules.total_days):
        day = rules.start_date + timedelta(days=offset)
        if day in made_up:
            state = DayState.MADE_UP if made_up[day] else DayState.CHECKED
        elif day < today:
            state = DayState.MISSED
        elif day == today:
            state = DayState.OPEN
        else:
            state = DayState.AHEAD
        found.append((day, state))
    return found
