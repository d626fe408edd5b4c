"""Request and response bodies of check-in challenges."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator

from activities.challenges import domain
from activities.challenges.service import Calendar, Outcome, Standing
from servicekit.text import Body, Line, Text

Id = Annotated[Line, Field(min_length=1, max_length=200)]
Url = Annotated[Line, Field(min_length=1, max_length=2000)]
Number = Annotated[float, Field(ge=-1e12, le=1e12, allow_inf_nan=False)]


class ChallengeIn(Body):
    community_id: Id
    group_id: Id | None = Field(default=None, description="Only this group's members take part")
    title: Annotated[Line, Field(min_length=1, max_length=200)]
    rules_text: Annotated[Text, Field(max_length=5000)] = Field(
        default="", description="The rules as members read them"
    )
    start_date: date = Field(description="First day, in the community's time zone")
    end_date: date = Field(description="Last day (inclusive), at most 366 days in all")
    window_start: time | None = Field(
        default=None, description="Daily window on the community's clock, e.g. 05:00"
    )
    window_end: time | None = Field(default=None, description="End of the window (exclusive)")
    requires: Annotated[list[domain.Part], Field(max_length=4)] = Field(
        default_factory=list, description="What every check-in must hold"
    )
    min_text_length: Annotated[int, Field(ge=0, le=5000)] = 0
    required_days: Annotated[int, Field(ge=1, le=domain.MAX_DAYS)] = Field(
        description="Completion: this many days checked (N of M)"
    )
    makeup_cards: Annotated[int, Field(ge=0, le=domain.MAX_DAYS)] = Field(
        default=0, description="Make-up cards (补卡) per member"
    )
    makeup_days: Annotated[int, Field(ge=0, le=domain.MAX_DAYS)] = Field(
        default=0, description="A make-up card fills one of the last K days only"
    )
    grace_days: Annotated[int, Field(ge=0, le=30)] = Field(
        default=0, description="Missed days in a row a streak survives"
    )
    milestones: Annotated[
        list[Annotated[int, Field(ge=1, le=domain.MAX_DAYS)]], Field(max_length=20)
    ] = Field(default_factory=lambda: list(domain.DEFAULT_MILESTONES), description="Streak lengths")

    @field_validator("window_start", "window_end")
    @classmethod
    def _wall_clock(cls, value: time | None) -> time | None:
        if value is not None and value.tzinfo is not None:
            raise ValueError("a wall-clock time without an offset (the community's zone applies)")
        return value

    def rules(self) -> domain.Rules:
        """Raises ``domain.InvalidRules`` for settings that contradict each other."""
        if (self.window_start is None) != (self.window_end is None):
            raise domain.InvalidRules("give both window_start and window_end, or neither")
        window = None
        if self.window_start is not None and self.window_end is not None:
            window = domain.Window(self.window_start, self.window_end)
        return domain.Rules(
            start_date=self.start_date,
            end_date=self.end_date,
            required_days=self.required_days,
            window=window,
            requires=frozenset(self.requires),
            min_text_length=self.min_text_length,
            makeup_cards=self.makeup_cards,
            makeup_days=self.makeup_days,
            grace_days=self.grace_days,
            milestones=tuple(self.milestones),
        )


class ChallengeOut(BaseModel):
    id: str
    community_id: str
    group_id: str | None
    title: str
    rules_text: str
    start_date: date
    end_date: date
    window_start: time | None
    window_end: time | None
    requires: list[str]
    min_text_length: int
    required_days: int
    total_days: int
    makeup_cards: int
    makeup_days: int
    grace_days: int
    milestones: list[int]
    created_at: datetime

    @classmethod
    def of(cls, row: Any) -> ChallengeOut:
        values = dict(row._mapping)
        values["total_days"] = (row.end_date - row.start_date).days + 1
        return cls.model_validate(values)


class EntryIn(Body):
    text: Annotated[Text | None, Field(max_length=5000)] = None
    images: Annotated[list[Url], Field(max_length=9)] = Field(default_factory=list)
    link: Url | None = None
    number: Number | None = Field(default=None, description="e.g. pages read")

    def value(self) -> domain.Entry:
        return domain.Entry(self.text, tuple(self.images), self.link, self.number)


class MakeUpIn(EntryIn):
    day: date = Field(description="The missed day to fill, in the community's time zone")


class CheckinOut(BaseModel):
    checkin_id: str
    day: date
    make_up: bool
    streak: int = Field(description="The streak this day belongs to")
    total_days: int
    new_milestones: list[int]
    completed: bool = Field(description="This check-in completed the challenge")
    checked_at: datetime

    @classmethod
    def of(cls, outcome: Outcome) -> CheckinOut:
        recorded = outcome.recorded
        return cls(
            checkin_id=outcome.checkin_id,
            day=recorded.day,
            make_up=recorded.make_up,
            streak=recorded.streak,
            total_days=recorded.total,
            new_milestones=list(recorded.new_milestones),
            completed=recorded.completed_now,
            checked_at=outcome.checked_at,
        )


Board = Literal["streak", "total", "earliest"]


class StandingOut(BaseModel):
    rank: int
    member_id: str
    streak: int
    total_days: int
    best_streak: int
    checked_at: datetime | None = Field(description="earliest board: the check-in's time")


class LeaderboardOut(BaseModel):
    by: Board
    day: date
    entries: list[StandingOut]

    @classmethod
    def of(cls, by: Board, day: date, rows: list[Standing]) -> LeaderboardOut:
        entries = [
            StandingOut(
                rank=i + 1,
                member_id=row.member_id,
                streak=row.streak,
                total_days=row.total,
                best_streak=row.best_streak,
                checked_at=row.checked_at,
            )
            for i, row in enumerate(rows)
        ]
        return cls(by=by, day=day, entries=entries)


class CalendarDayOut(BaseModel):
    day: date
    state: domain.DayState


class CalendarOut(BaseModel):
    member_id: str
    today: date
    total_days: int
    streak: int = Field(description="The streak alive today")
    best_streak: int
    makeups_left: int
    completed: bool
    days: list[CalendarDayOut]

    @classmethod
    def of(cls, cal: Calendar) -> CalendarOut:
        return cls(
            member_id=cal.member_id,
            today=cal.today,
            total_days=cal.total,
            streak=cal.streak,
            best_streak=cal.best_streak,
            makeups_left=cal.makeups_left,
            completed=cal.completed,
            days=[CalendarDayOut(day=d, state=s) for d, s in cal.days],
        )
